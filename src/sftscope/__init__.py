"""sftscope: under what conditions, and at what cost, does reasoning SFT generalize?"""

__version__ = "0.1.0"
