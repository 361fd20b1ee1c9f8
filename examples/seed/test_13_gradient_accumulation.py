# Seed block "Gradient Accumulation": four micro-batches make one optimizer step with the gradient
# of the mean loss over all of them, so the step equals one step on the four batches together.
import numpy as np

import mithril as ml
from glue import compiled_model, train_dataset, train_params


def test_as_written():
    # Training with gradient accumulation
    trainer = ml.Trainer(
        model=compiled_model,
        optimizer=ml.Adam(learning_rate=0.001),
        gradient_accumulation_steps=4  # Accumulate over 4 mini-batches
    )
    assert trainer.gradient_accumulation_steps == 4


def test_accumulated_step_equals_the_step_on_the_whole_batch():
    x, y = train_dataset["input"][:32], train_dataset["target"][:32]
    micro = [{"input": x[i:i + 8], "target": y[i:i + 8]} for i in range(0, 32, 8)]
    accumulated = ml.Trainer(model=compiled_model, optimizer=ml.Adam(learning_rate=0.001),
                             gradient_accumulation_steps=4, params=train_params)
    whole = ml.Trainer(model=compiled_model, optimizer=ml.Adam(learning_rate=0.001), params=train_params)
    loss_a = accumulated.step(micro)
    loss_w = whole.step({"input": x, "target": y})
    assert loss_a == np.float64(loss_w) or abs(loss_a - loss_w) < 1e-12
    for k in train_params:
        np.testing.assert_allclose(accumulated.params[k], whole.params[k], rtol=1e-10, atol=1e-12)
        assert not np.array_equal(accumulated.params[k], train_params[k])

    loader = ml.DataLoader(train_dataset, batch_size=8)
    first = accumulated.train_epoch(loader)
    second = accumulated.train_epoch(loader)
    assert second < first  # the loss goes down
    assert accumulated.global_step == 1 + 2 * 3  # 12 batches per epoch, 4 per step
