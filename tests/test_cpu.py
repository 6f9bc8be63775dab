"""configure_cpu sets the CPU switches without overriding the user's own, and MXNet's engine
runs with the threads it sets even though MXNet fixed its thread policy at import."""
import gluon_pydmn as g


def test_configure_cpu_sets_defaults_only(monkeypatch):
    """The engine's threads follow OMP_NUM_THREADS (recorded here, not applied: more threads
    than cores would slow every later test of this process)."""
    from gluon_pydmn import cpu
    engine = []
    monkeypatch.setattr(cpu, 'set_engine_threads', engine.append)
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.delenv('DNNL_MAX_CPU_ISA', raising=False)
    assert g.configure_cpu(threads=3, training=False) == {'OMP_NUM_THREADS': '3',
                                                          'DNNL_MAX_CPU_ISA': None}
    assert g.configure_cpu(threads=5) == {'OMP_NUM_THREADS': '3', 'DNNL_MAX_CPU_ISA': 'AVX2'}
    monkeypatch.setenv('DNNL_MAX_CPU_ISA', 'AVX512_CORE')
    assert g.configure_cpu()['DNNL_MAX_CPU_ISA'] == 'AVX512_CORE'
    assert engine == [3, 3, 3]


def _in_a_new_process(code, **env):
    """The last line ``code`` prints, run in a fresh interpreter with neither switch set
    (but ``env``)."""
    import os
    import subprocess
    import sys
    env = dict({k: v for k, v in os.environ.items()
                if k not in ('OMP_NUM_THREADS', 'DNNL_MAX_CPU_ISA')}, **env)
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          check=True).stdout.strip().splitlines()[-1]


def _configure_in_a_new_process(before):
    """Warnings of ``configure_cpu()`` called after the Python lines ``before``."""
    return _in_a_new_process(
        'import warnings, mxnet as mx, gluon_pydmn as g\n%s\n'
        'with warnings.catch_warnings(record=True) as caught:\n'
        '    warnings.simplefilter("always")\n'
        '    g.configure_cpu()\n'
        'print([str(w.message) for w in caught if "configure_cpu" in str(w.message)])' % before)


def test_configure_cpu_called_first_is_silent():
    assert _configure_in_a_new_process('') == '[]'


def test_configure_cpu_called_after_mxnet_ran_says_which_switch_came_too_late():
    out = _configure_in_a_new_process("net = g.get_model('mobilenet_29_0.5', pretrained=False, "
                                      'initialize=True)')
    assert 'called after MXNet ran its first operator' in out
    assert 'DNNL_MAX_CPU_ISA=AVX2' in out and 'OMP_NUM_THREADS' not in out


_THREADS = ('import mxnet as mx, gluon_pydmn as g\n'
            'from gluon_pydmn.cpu import engine_threads\n'
            'before = engine_threads()\n'
            '%s\n'
            'print(before, engine_threads())')


def test_configure_cpu_after_import_mxnet_sets_the_engines_threads():
    """MXNet reads OMP_NUM_THREADS when libmxnet loads; without it, its CPU worker runs one
    thread per two cores. configure_cpu after ``import mxnet``, and even after a network has
    run, gives the engine the threads asked for."""
    import os
    mxnet_default = max(1, (os.cpu_count() or 1) // 2)
    assert _in_a_new_process(_THREADS % 'g.configure_cpu(threads=3)') == '%d 3' % mxnet_default
    ran = ("net = g.get_model('mobilenet_29_0.5', initialize=True)\n"
           'net(mx.nd.zeros((2, 3, 32, 32))).wait_to_read()\n'
           'g.configure_cpu(threads=3)')
    assert _in_a_new_process(_THREADS % ran) == '%d 3' % mxnet_default


def test_the_engine_keeps_omp_num_threads_from_the_environment():
    assert _in_a_new_process(_THREADS % 'g.configure_cpu(threads=5)', OMP_NUM_THREADS='3') == \
        '3 3'


def test_the_openmp_runtime_is_the_one_libmxnet_loaded():
    """Thread counts are set and read in the libgomp that libmxnet loaded, never in a copy
    loaded beside it."""
    from gluon_pydmn import cpu
    with open('/proc/self/maps') as f:
        loaded = 'libgomp' in f.read()
    assert loaded  # MXNet's pip builds link libgomp
    assert cpu._openmp() is not None and cpu.engine_threads() >= 1
