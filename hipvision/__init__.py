"""HipVision: Norberg-angle measurement on canine ventrodorsal hip radiographs.

Importing the package must stay cheap (no torch, no Qt): the window has to appear fast and
torch is loaded by the engine thread the first time it is needed.
"""

__version__ = "0.1.0"
