# PyInstaller runtime hook of the CPU bundle (see hipvision.spec): the bundle leaves out the
# CUDA libraries torch loads on first use (cuDNN engines, cuSOLVER), so a GPU would be found
# and then fail mid-job. Hiding it makes "auto" pick the CPU. Runs before any app code.
import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
