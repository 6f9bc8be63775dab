"""``error_rate`` on hand-made logits with exactly known answers."""
import numpy as np
import pytest

from gluon_pydmn.evaluate import error_rate


def test_error_rate_counts_wrong_top1_predictions():
    logits = [[0.1, 2.0, -1.0],   # predicts 1
              [3.0, 0.0, 0.5],    # predicts 0
              [-1.0, -2.0, -0.5],  # predicts 2
              [0.0, 0.2, 0.1]]    # predicts 1
    assert error_rate(logits, [1, 0, 2, 1]) == 0.0
    assert error_rate(logits, [1, 0, 2, 0]) == 25.0, 'error_rate: one wrong of four must be 25%'
    assert error_rate(logits, [1, 1, 2, 0]) == 50.0
    assert error_rate(logits, [0, 1, 0, 0]) == 100.0
    assert error_rate(np.array(logits, dtype=np.float32), np.array([2, 0, 2, 1])) == 25.0


def test_error_rate_of_a_single_sample():
    assert error_rate([[0.0, 1.0]], [1]) == 0.0
    assert error_rate([[0.0, 1.0]], [0]) == 100.0, 'error_rate: one wrong of one must be 100%'


def test_error_rate_is_a_percentage_of_all_samples():
    rng = np.random.RandomState(0)
    logits = rng.normal(size=(7, 10))
    labels = logits.argmax(axis=1)
    labels[[1, 4, 5]] = (labels[[1, 4, 5]] + 1) % 10  # three of seven wrong
    assert error_rate(logits, labels) == pytest.approx(300 / 7, rel=1e-12)
    assert error_rate(np.eye(1000), np.r_[np.arange(999), 0]) == pytest.approx(0.1, rel=1e-12)


def test_ties_go_to_the_first_tied_class():
    """A tie predicts the lowest tied class index (``argmax``), so it is right only if that
    class is the label."""
    logits = [[1.0, 1.0, 0.0],
              [0.0, 2.0, 2.0],
              [0.5, 0.5, 0.5]]
    assert error_rate(logits, [0, 1, 0]) == 0.0
    assert error_rate(logits, [1, 2, 2]) == 100.0
    assert error_rate(logits, [0, 2, 0]) == pytest.approx(100 / 3, rel=1e-12)


@pytest.mark.parametrize('logits, labels', [
    (np.zeros((3, 2)), np.zeros(2)),          # lengths differ
    (np.zeros(3), np.zeros(3)),               # not (N, C)
    (np.zeros((2, 3, 1)), np.zeros(2)),
])
def test_error_rate_rejects_mismatched_shapes(logits, labels):
    with pytest.raises(ValueError, match='need logits'):
        error_rate(logits, labels)
