"""cifarcmp: ResNet50 transfer learning versus a CNN trained from scratch on CIFAR-10."""

__version__ = "0.1.0"
