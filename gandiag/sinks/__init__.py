"""Sinks: everything the Monitor commits to its run store, also sent live elsewhere.

>>> from gandiag.sinks import TensorBoardSink                                   # doctest: +SKIP
>>> mon = gandiag.Monitor("runs/dcgan", G, D, sinks=[TensorBoardSink("tb/dcgan")])  # doctest: +SKIP

:class:`TensorBoardSink` (``pip install gandiag[tensorboard]``), :class:`WandbSink`
(``pip install gandiag[wandb]``) and :class:`LoggerSink` (a Lightning logger; the
Lightning callback attaches it to the trainer's loggers). Each imports its package
only when constructed.
"""

from gandiag.sinks.base import Sink, Tee
from gandiag.sinks.lightning import LoggerSink
from gandiag.sinks.tensorboard import TensorBoardSink
from gandiag.sinks.wandb import WandbSink

__all__ = ["LoggerSink", "Sink", "Tee", "TensorBoardSink", "WandbSink"]
