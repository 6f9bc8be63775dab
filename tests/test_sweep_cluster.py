"""The sweep on a Ray cluster of several nodes (``ray.cluster_utils.Cluster``: a head and two
worker nodes, each with its own raylet, on this machine), joined by address as a user with a
cluster would, and a worker node lost in the middle of a run."""
import os

import pytest

from gluon_pydmn.reproduce.sweep import SweepResources, run_folder, run_sweep, sweep_specs
from gluon_pydmn.run_folder import RunFolder
from gluon_pydmn.train import TrainConfig

MODELS = ['mobilenet_29_0.5', 'pydmobilenet_add_29_0.25']


@pytest.fixture
def cluster():
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args={'num_cpus': 0})  # the driver's node
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    yield cluster, workers
    cluster.shutdown()


def test_a_lost_node_s_runs_resume_elsewhere_from_their_last_epoch(cluster, data_root, tmp_path):
    cluster, workers = cluster
    config = TrainConfig(epochs=3, lr_decay_epochs=(2,), mixup_off_last_epochs=1)
    events, lost = [], []

    def lose_the_node_of_the_first_finished_epoch(event):
        events.append(event)
        if event['kind'] == 'epoch' and not lost:
            node = next(w for w in workers if w.node_id == event['node'])
            lost.append((event['model'], event['node'], event['row']['epoch']))
            cluster.remove_node(node, allow_graceful=False)
    rows = run_sweep(sweep_specs(MODELS, ['cifar10'], config, 256, 256), str(tmp_path),
                     resources=SweepResources(address=cluster.address), data_root=data_root,
                     on_event=lose_the_node_of_the_first_finished_epoch, log=lambda line: None)
    assert lost, 'no epoch finished'
    assert [(r['zoo_name'], r['status'], r['epochs_done']) for r in rows] == [
        (m, 'finished', 3) for m in MODELS]
    model, node, epoch = lost[0]
    starts = [e['node'] for e in events if e['kind'] == 'start' and e['model'] == model]
    assert len(starts) == 2 and starts[0] == node != starts[1]  # retried on the other node
    resumed = [e['message'] for e in events if e['kind'] == 'log' and e['model'] == model
               and 'resuming' in e['message']]
    assert len(resumed) == 1 and int(resumed[0].split('after epoch ')[1].split()[0]) >= epoch
    for m in MODELS:  # no gap, no duplicate epoch; every run's table row and report complete
        folder = RunFolder(run_folder(str(tmp_path), m, 'cifar10'))
        assert [r['epoch'] for r in folder.history()] == [1, 2, 3]
        assert folder.is_finished() and folder.has('summary.md')
    with open(os.path.join(str(tmp_path), 'table3-trained.csv')) as f:
        assert f.read().count(',finished,') == 2
