"""Stop training on a non-finite loss without making every step wait for the device.

On the CPU the loss is checked at every step before the optimiser update (reading a CPU tensor costs
nothing). On an accelerator reading the loss would make the host wait for the device at every step, so
the first non-finite step is recorded on the device instead and read at the points where the host waits
anyway or must know: logging steps, before every checkpoint is written (rolling ``last.ckpt`` and
``best.pt``) and at the end of each epoch. A non-finite loss therefore never reaches a checkpoint on disk,
on any device.
"""

from __future__ import annotations

import torch

from tagformer.errors import TagformerError

_HINT = "lower optim.lr or check the data for NaN/inf values"


class NonFiniteLossError(TagformerError):
    """The training loss became NaN or infinite."""


class FiniteCheck:
    """Watch a training loss for NaN/inf.

    Parameters
    ----------
    what : the loss's name in the message (``training``, ``pretraining``).
    """

    def __init__(self, what: str = "training") -> None:
        self.what = what
        self._first: torch.Tensor | None = None  # (step, loss) of the first bad step, step -1 while none

    def step(self, loss: torch.Tensor, step: int, epoch: int, batch_idx: int) -> None:
        """Check (CPU) or record (accelerator) this step's loss."""
        if loss.device.type == "cpu":
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"{self.what} loss became {loss.item()} at step {step} (epoch {epoch}, batch {batch_idx}); "
                    f"stopped before updating, the last checkpoint is the last good one - {_HINT}")
            return
        value = loss.detach().float().reshape(())
        if self._first is None:
            self._first = torch.tensor([-1.0, 0.0], device=loss.device)
        bad = ~torch.isfinite(value) & (self._first[0] < 0)
        here = torch.stack([torch.full_like(value, float(step)), value])
        self._first = torch.where(bad, here, self._first)

    def check(self) -> None:
        """Raise if a recorded step was not finite (waits for the device; call at a sync point)."""
        if self._first is None:
            return
        step, value = self._first.tolist()
        if step >= 0:
            raise NonFiniteLossError(
                f"{self.what} loss became {value} at step {int(step)}; stopped at the next check, no checkpoint "
                f"was written after that step, so the last checkpoint is the last good one - {_HINT}")
