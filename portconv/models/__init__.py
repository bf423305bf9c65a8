"""The networks of D2L's chapters 7 and 8, written once with :mod:`portconv.nn`, so each
runs on every backend: LeNet (7.6), AlexNet (8.1), VGG (8.2), NiN (8.3), GoogLeNet (8.4),
BNLeNet (8.5), ResNet and ResNeXt (8.6), DenseNet (8.7), AnyNet and RegNetX (8.8), plus the
LeNet variants of the seeds (``LeNet5``, ``LeNetModern``). :mod:`portconv.models.keras` has the
TensorFlow edition's channels-last models, :mod:`portconv.models.flax` the JAX edition's.

Each follows the structure of the book's PyTorch code with lazy layers (input sizes are
inferred on the first call), so parameter names match a ``torch.nn`` model of the same
structure and state dicts move between the two. Models built on one ``net`` Sequential
print one line per top-level layer with :meth:`~portconv.nn.Module.layer_summary`;
:func:`shape_summary` and :func:`count_parameters` give the same shapes and the parameter
count without computing anything (VGG-16 at 224 x 224 in no time).

Every model takes ``init="xavier"`` (the book's ``init_cnn``) and ``lr`` keyword-only.
"""

from . import flax, keras
from ._base import Classifier
from .classic import VGG, VGG11, VGG13, VGG16, VGG19, VGG_ARCHS, AlexNet, NiN, nin_block, vgg_block
from .densenet import DenseBlock, DenseNet, conv_block, transition_block
from .googlenet import GoogLeNet, GoogleNet, Inception
from .lenet import BNLeNet, LeNet, LeNet5, LeNet_modern, LeNetModern
from .regnet import AnyNet, RegNetX32
from .resnet import Residual, ResNet, ResNet18, ResNet34, ResNeXtBlock
from .shapes import count_parameters, output_shape, shape_summary

__all__ = [
    "VGG",
    "VGG11",
    "VGG13",
    "VGG16",
    "VGG19",
    "VGG_ARCHS",
    "AlexNet",
    "AnyNet",
    "BNLeNet",
    "Classifier",
    "DenseBlock",
    "DenseNet",
    "GoogLeNet",
    "GoogleNet",
    "Inception",
    "LeNet",
    "LeNet5",
    "LeNetModern",
    "LeNet_modern",
    "NiN",
    "RegNetX32",
    "ResNeXtBlock",
    "ResNet",
    "ResNet18",
    "ResNet34",
    "Residual",
    "conv_block",
    "count_parameters",
    "flax",
    "keras",
    "nin_block",
    "output_shape",
    "shape_summary",
    "transition_block",
    "vgg_block",
]
