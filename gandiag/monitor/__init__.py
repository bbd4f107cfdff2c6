"""The Monitor: stream training signals out of any GAN or VAE training loop.

``gandiag.Monitor`` is a lazy alias of :class:`gandiag.monitor.Monitor`. Add three
lines to your own loop::

    mon = gandiag.Monitor("runs/my_gan", generator=G, discriminator=D, latent_dim=64)
    mon.step(step, losses={"G": loss_g, "D": loss_d}, d_real=out_real, d_fake=out_fake,
             real=x, fake=fake)          # once per iteration, after the optimizer steps
    mon.close()

See docs/monitor.md for the signals, their cadence and the cost.
"""

from gandiag.monitor.cadence import Cadence
from gandiag.monitor.latent import SENSITIVITY_EPS
from gandiag.monitor.monitor import DUP_THRESHOLD, Monitor

__all__ = ["DUP_THRESHOLD", "SENSITIVITY_EPS", "Cadence", "Monitor"]
