"""dcgan_core: train and serve DCGANs (Radford, Metz, Chintala 2015).

No Streamlit import anywhere in this package: the app in `explorer/` and `pages/`
depends on it, never the other way round.
"""

__version__ = "0.1.0"
