"""The training loop the train and QLoRA fixture scripts share: full-batch steps on one batch."""


def train(model, make_optimizer, steps, ids, labels):
    """Runs `steps` optimizer steps of `model` (PEFT, adapters trainable) on (ids, labels);
    returns the loss before each step."""
    model.train()  # dropout is 0, so train mode changes nothing numerically
    opt = make_optimizer([p for p in model.parameters() if p.requires_grad])
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = model(input_ids=ids, labels=labels).loss
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return losses
