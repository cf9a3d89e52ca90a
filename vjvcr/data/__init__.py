"""Data: MNIST digit sources, the MovingMNIST generator, and CLEVRER / CATER (loaders and twins)."""
from .digits import Digits, load_digits
from .moving_mnist import MovingMNIST, cached_moving_mnist, load_mnist_test_seq, make_moving_mnist

__all__ = ["Digits", "MovingMNIST", "cached_moving_mnist", "load_digits",
           "load_mnist_test_seq", "make_moving_mnist"]
# vjvcr.data.clevrer and vjvcr.data.cater are imported by name (they need PyAV)
