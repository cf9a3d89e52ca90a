"""Data: MNIST digit sources and the MovingMNIST generator."""
from .digits import Digits, load_digits
from .moving_mnist import MovingMNIST, cached_moving_mnist, load_mnist_test_seq, make_moving_mnist

__all__ = ["Digits", "MovingMNIST", "cached_moving_mnist", "load_digits",
           "load_mnist_test_seq", "make_moving_mnist"]
