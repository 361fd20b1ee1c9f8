# Seed block "Efficient Data Loading": worker threads load batches ahead (at most num_workers *
# prefetch_factor in flight), in an order that depends only on the seed and the epoch.
import numpy as np

import mithril as ml
from glue import train_dataset


def test_as_written():
    # Create an efficient data loader
    dataloader = ml.DataLoader(
        dataset=train_dataset,
        batch_size=32,
        shuffle=True,
        num_workers=4,            # Parallel data loading
        pin_memory=True,          # Pin memory for faster GPU transfer
        prefetch_factor=2         # Prefetch batches
    )
    batches = list(dataloader)
    assert len(batches) == len(dataloader) == 3
    assert dataloader.max_in_flight <= 4 * 2
    seen = np.concatenate([b["input"] for b in batches])
    order = dataloader.epoch_order(0)
    assert sorted(order) == list(range(96)) and order != list(range(96))
    np.testing.assert_array_equal(seen, train_dataset["input"][order])
    serial = ml.DataLoader(dataset=train_dataset, batch_size=32, shuffle=True, num_workers=0)
    for a, b in zip(batches, serial):
        np.testing.assert_array_equal(a["target"], b["target"])


class Squares:
    """A sequence-style dataset, read by the worker threads under the GIL."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return {"input": np.array([float(i)]), "target": np.array([float(i * i)])}


def test_python_sequence_dataset():
    loader = ml.DataLoader(dataset=Squares(), batch_size=4, num_workers=2)
    batches = list(loader)
    assert [b["input"].shape[0] for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[2]["target"][:, 0], [64.0, 81.0])
