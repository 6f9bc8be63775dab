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
