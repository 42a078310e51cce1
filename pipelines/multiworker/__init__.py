"""Multi-worker training: `MultiWorkerMirroredStrategy` driven by a custom training loop.

Keras 3's `fit()` fails under `MultiWorkerMirroredStrategy` ("unsupported type PerReplica":
keras-team/keras#20585, tensorflow/tensorflow#72388; reproduced with Keras 3.15), so a
cluster run trains here instead, with the Keras model and optimizer:

- each worker reads its own shard of the training set (`make_train_dataset` receives a
  `tf.distribute.InputContext`), batched at the per-replica share of the global batch;
- `strategy.run` runs the step on every replica; the loss is scaled by
  `tf.nn.compute_average_loss` over the global batch and the optimizer sums the gradients
  across replicas, so every worker applies the same update and the workers stay identical;
- validation runs on the chief, which sends its numbers to the others (early stopping must
  decide the same on every worker, or the next collective op would wait forever);
- after every epoch a `tf.train.Checkpoint` of the model, the optimizer, the epoch counter
  and the early-stopping state is written: by the chief under `run_dir/backup/`, by the
  others into a temporary folder deleted at once (the standard pattern: every worker takes
  part in a save). A restarted cluster resumes from the chief's checkpoint: the chief reads
  it and broadcasts every restored variable, so the other workers need no shared storage;
- the loop returns a copy of the trained model outside the strategy, for the chief's
  evaluation and saving (Keras's `predict` under this strategy runs collective ops, which
  would wait for workers that are no longer training).

`cluster=None` runs the same loop in one process under any strategy (the default one in
the unit tests).

Usage (on every host, with the same list; see README, "Running on a cluster"):

    pipelines run mnist --workers host1:2222,host2:2222 --worker-index 0   (1 on host2)

or from Python (`make_strategy` blocks until every worker has started):

    from pipelines.worker_cluster import cluster_from_workers
    cluster = cluster_from_workers(("localhost:2222", "localhost:2223"), 0)
    strategy = make_strategy(cluster, "cpu")

The package, one idea per module:

- `cluster`: joining the cluster (`make_strategy`), a non-chief's scratch folder, and the
  barrier that ends a run (`wait_for_all_workers`);
- `fit`: the entry point, `fit_multiworker`, and its check of the global batch;
- `loop`: the epoch loop and its state, and what it returns (`DistributedFit`);
- `checkpoints`: the loop's checkpoint save, restore and resume, and the best epoch's model;
- `train_step`: the compiled training step (`make_train_step`);
- `reductions`: the cross-replica broadcast and all-reduces;
- `peer_errors`: the TensorFlow errors that mean a peer was lost, and their messages.
"""

from pipelines.multiworker.checkpoints import BACKUP_DIR
from pipelines.multiworker.cluster import make_scratch_dir, make_strategy, wait_for_all_workers
from pipelines.multiworker.fit import check_global_batch, fit_multiworker
from pipelines.multiworker.loop import DistributedFit
from pipelines.multiworker.loop import _Loop as _Loop  # not public; tests patch its methods
from pipelines.multiworker.train_step import make_train_step

__all__ = [
    "BACKUP_DIR",
    "DistributedFit",
    "make_strategy",
    "check_global_batch",
    "fit_multiworker",
    "make_train_step",
    "make_scratch_dir",
    "wait_for_all_workers",
]
