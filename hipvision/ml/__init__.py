"""The keypoint model: training, prediction and evaluation (torch, timm; never Qt).

Entry points (import the submodules; this package import stays cheap):
- hipvision.ml.training.train_keypoints(TrainConfig, project_or_samples, ...) -> TrainResult
- hipvision.ml.predict.Predictor.load(path) / .default() / .for_project(project)
- hipvision.ml.evaluate.evaluate(predictor, project_or_samples, ...) -> EvalReport
- hipvision.ml.zoo.ZOO: the named ImageNet backbones
"""
