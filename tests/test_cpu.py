"""configure_cpu sets the CPU switches without overriding the user's own."""
import gluon_pydmn as g


def test_configure_cpu_sets_defaults_only(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.delenv('DNNL_MAX_CPU_ISA', raising=False)
    assert g.configure_cpu(threads=3, training=False) == {'OMP_NUM_THREADS': '3',
                                                          'DNNL_MAX_CPU_ISA': None}
    assert g.configure_cpu(threads=5) == {'OMP_NUM_THREADS': '3', 'DNNL_MAX_CPU_ISA': 'AVX2'}
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX512_CORE')
    assert g.configure_cpu()['DNNL_MAX_CPU_ISA'] == 'AVX512_CORE'


def _configure_in_a_new_process(before):
    """Warnings of ``configure_cpu()`` called after the Python lines ``before``, in a fresh
    interpreter with neither switch set."""
    import os
    import subprocess
    import sys
    code = ('import warnings, mxnet as mx, gluon_pydmn as g\n%s\n'
            'with warnings.catch_warnings(record=True) as caught:\n'
            '    warnings.simplefilter("always")\n'
            '    g.configure_cpu()\n'
            'print([str(w.message) for w in caught if "configure_cpu" in str(w.message)])'
            % before)
    env = {k: v for k, v in os.environ.items() if k not in ('OMP_NUM_THREADS', 'DNNL_MAX_CPU_ISA')}
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          check=True).stdout.strip()


def test_configure_cpu_called_first_is_silent():
    assert _configure_in_a_new_process('') == '[]'


def test_configure_cpu_called_after_mxnet_ran_says_which_switches_came_too_late():
    out = _configure_in_a_new_process("net = g.get_model('mobilenet_29_0.5', pretrained=False, "
                                      'initialize=True)')
    assert 'called after MXNet ran its first operator' in out
    assert 'OMP_NUM_THREADS=' in out and 'DNNL_MAX_CPU_ISA=AVX2' in out
