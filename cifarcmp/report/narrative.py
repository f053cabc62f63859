"""The prose about the models, generated from the runs: what each one was, what it can say, and
what the seed report published.

Every page that describes the models (Home, Background, Method, Comparison, Discussion,
Limitations, References) reads it from here, so no page can describe an ImageNet-pretrained,
224-pixel ResNet50 when the runs behind it had neither:

- `model_facts(group)`: a model's runs as they were (weights loaded or not, input size, epochs,
  training images, data) with the cautions that must stand next to its numbers (no ImageNet
  weights, at chance, one class for every image, one epoch);
- `deviation_sentences(config)`: how a run departs from the seed's protocol, in words;
- `curve_commentary(group)`: what its training curves show, from history.csv;
- `conclusion(...)`: the closing paragraph, from the same facts;
- `SEED_REPORT_SOURCE` and `REFERENCES`: the seed report identified, and every work the site cites.

Reads runs only through `analysis`; nothing here trains or imports Keras.
"""

from __future__ import annotations

import json

import numpy as np

from cifarcmp import architectures
from cifarcmp.analysis.formatting import format_accuracy, format_count, format_epoch, format_pp
from cifarcmp.analysis.measures import CHANCE, at_chance, test_interval, validation_images
from cifarcmp.config import SEED_REPORT, paper_config

CIFAR_TRAIN_IMAGES = 50_000
IMAGENET_SIZE = 224  # pixels: the images ResNet50's ImageNet weights were learned on
BYTES_PER_PARAMETER = 4  # float32 weights, as the runs store them

# The report this project reproduces and extends (../shared/seed/ in the project's workspace).
SEED_REPORT_SOURCE = {
    "title": "A Comparative Analysis of Transfer Learning derived CNN model and Scratch Convolutional "
    "Neural Network (CNN) on CIFAR-10 Dataset",
    "author": "Gaurav Kumar",
    "where": "a student report with its code run on Google Colab (the report names a Colab notebook "
    "but gives no address); undated",
}

# The seed report's published figures, as it gives them (config.SEED_REPORT holds the ones the
# tables compare with); train and validation accuracy and the curve narrative are its own words' numbers.
SEED_FIGURES = [
    {
        "model": "resnet50",
        "label": "ResNet50, ImageNet weights, fine-tuned",
        "protocol": "224 × 224 px inputs, the 32 px images upsampled 7×; SGD at 0.01, batch 64",
        "epochs": "ran all 6 of its 6 epochs",
        "train": "92 %",
        "val": "95 %",
        "test": SEED_REPORT["resnet50"]["test_accuracy"],
        "loss": SEED_REPORT["resnet50"]["test_loss"],
        "parameters": SEED_REPORT["resnet50"]["parameters"],
        "size": "100.01 MB",
        "curve": "training accuracy 86.91 % after the first epoch and 99.91 % after the sixth; validation loss "
        "rose slightly in the last epoch",
    },
    {
        "model": "cnn",
        "label": "CNN trained from scratch",
        "protocol": "32 × 32 px inputs; SGD at 0.01, batch 64",
        "epochs": "stopped early at epoch 17 of 50",
        "train": "82 %",
        "val": "78.3 %",
        "test": SEED_REPORT["cnn"]["test_accuracy"],
        "loss": SEED_REPORT["cnn"]["test_loss"],
        "parameters": SEED_REPORT["cnn"]["parameters"],
        "size": "4.77 MB",
        "curve": "training accuracy 39.9 % after the first epoch; training loss from 1.63 to about 0.48 by "
        "epoch 17; validation accuracy 78.31 % at the last epoch",
    },
]

# Every work the site cites or builds on, the seed report first. `url` only where the work has a
# stable public address.
REFERENCES = [
    {
        "key": "seed",
        "text": f"{SEED_REPORT_SOURCE['author']}. *{SEED_REPORT_SOURCE['title']}*. Student report, Google Colab "
        "(no address given). The report this site reproduces and extends.",
        "url": "",
    },
    {
        "key": "he2016",
        "text": "Kaiming He, Xiangyu Zhang, Shaoqing Ren and Jian Sun. *Deep Residual Learning for Image "
        "Recognition*. CVPR 2016, pp. 770–778.",
        "url": "https://arxiv.org/abs/1512.03385",
    },
    {
        "key": "krizhevsky2009",
        "text": "Alex Krizhevsky. *Learning Multiple Layers of Features from Tiny Images*. Technical report, "
        "University of Toronto, 2009.",
        "url": "https://www.cs.toronto.edu/~kriz/cifar.html",
    },
    {
        "key": "russakovsky2015",
        "text": "Olga Russakovsky, Jia Deng, Hao Su et al. *ImageNet Large Scale Visual Recognition Challenge*. "
        "International Journal of Computer Vision 115, 211–252, 2015.",
        "url": "https://arxiv.org/abs/1409.0575",
    },
    {
        "key": "guo2017",
        "text": "Chuan Guo, Geoff Pleiss, Yu Sun and Kilian Q. Weinberger. *On Calibration of Modern Neural "
        "Networks*. ICML 2017 (the expected calibration error on Test-set evidence).",
        "url": "https://arxiv.org/abs/1706.04599",
    },
    {
        "key": "clopper1934",
        "text": "C. J. Clopper and E. S. Pearson. *The Use of Confidence or Fiducial Limits Illustrated in the "
        "Case of the Binomial*. Biometrika 26(4), 404–413, 1934 (the exact accuracy intervals).",
        "url": "",
    },
    {
        "key": "mcnemar1947",
        "text": "Quinn McNemar. *Note on the Sampling Error of the Difference between Correlated Proportions "
        "or Percentages*. Psychometrika 12(2), 153–157, 1947 (the paired test).",
        "url": "",
    },
    {
        "key": "kornblith2019",
        "text": "Simon Kornblith, Jonathon Shlens and Quoc V. Le. *Do Better ImageNet Models Transfer "
        "Better?* CVPR 2019 (the fine-tuned, frozen and random-initialisation arms of the studies).",
        "url": "https://arxiv.org/abs/1805.08974",
    },
    {
        "key": "selvaraju2017",
        "text": "Ramprasaath R. Selvaraju, Michael Cogswell, Abhishek Das et al. *Grad-CAM: Visual Explanations "
        "from Deep Networks via Gradient-based Localization*. ICCV 2017 (the Grad-CAM study).",
        "url": "https://arxiv.org/abs/1610.02391",
    },
    # The Improvements page: the methods its studies use, the backbones, and the published results.
    {
        "key": "hinton2015",
        "text": "Geoffrey Hinton, Oriol Vinyals and Jeff Dean. *Distilling the Knowledge in a Neural Network*. "
        "NIPS 2014 Deep Learning Workshop, arXiv:1503.02531, 2015 (the distillation study).",
        "url": "https://arxiv.org/abs/1503.02531",
    },
    {
        "key": "cubuk2020",
        "text": "Ekin D. Cubuk, Barret Zoph, Jonathon Shlens and Quoc V. Le. *RandAugment: Practical Automated "
        "Data Augmentation with a Reduced Search Space*. CVPR Workshops 2020 (the augmentation study).",
        "url": "https://arxiv.org/abs/1909.13719",
    },
    {
        "key": "zhang2018",
        "text": "Hongyi Zhang, Moustapha Cisse, Yann N. Dauphin and David Lopez-Paz. *mixup: Beyond Empirical "
        "Risk Minimization*. ICLR 2018 (the augmentation study).",
        "url": "https://arxiv.org/abs/1710.09412",
    },
    {
        "key": "he2016identity",
        "text": "Kaiming He, Xiangyu Zhang, Shaoqing Ren and Jian Sun. *Identity Mappings in Deep Residual "
        "Networks*. ECCV 2016 (ResNet50V2, the backbones study).",
        "url": "https://arxiv.org/abs/1603.05027",
    },
    {
        "key": "huang2017",
        "text": "Gao Huang, Zhuang Liu, Laurens van der Maaten and Kilian Q. Weinberger. *Densely Connected "
        "Convolutional Networks*. CVPR 2017 (DenseNet121, the backbones study).",
        "url": "https://arxiv.org/abs/1608.06993",
    },
    {
        "key": "howard2019",
        "text": "Andrew Howard, Mark Sandler, Grace Chu et al. *Searching for MobileNetV3*. ICCV 2019 "
        "(MobileNetV3Large, the backbones study).",
        "url": "https://arxiv.org/abs/1905.02244",
    },
    {
        "key": "tan2021",
        "text": "Mingxing Tan and Quoc V. Le. *EfficientNetV2: Smaller Models and Faster Training*. ICML 2021 "
        "(EfficientNetV2B0, the backbones study).",
        "url": "https://arxiv.org/abs/2104.00298",
    },
    {
        "key": "liu2022",
        "text": "Zhuang Liu, Hanzi Mao, Chao-Yuan Wu et al. *A ConvNet for the 2020s*. CVPR 2022 (ConvNeXtTiny, "
        "the backbones study).",
        "url": "https://arxiv.org/abs/2201.03545",
    },
    {
        "key": "kolesnikov2020",
        "text": "Alexander Kolesnikov, Lucas Beyer, Xiaohua Zhai et al. *Big Transfer (BiT): General Visual "
        "Representation Learning*. ECCV 2020 (a published result on Improvements).",
        "url": "https://arxiv.org/abs/1912.11370",
    },
    {
        "key": "ericsson2021",
        "text": "Linus Ericsson, Henry Gouk and Timothy M. Hospedales. *How Well Do Self-Supervised Models "
        "Transfer?* CVPR 2021 (a published result on Improvements).",
        "url": "https://arxiv.org/abs/2011.13377",
    },
    {
        "key": "jordan2024",
        "text": "Keller Jordan. *94% on CIFAR-10 in 3.29 Seconds on a Single GPU*. arXiv:2404.00498, 2024 "
        "(airbench, a published result on Improvements).",
        "url": "https://arxiv.org/abs/2404.00498",
    },
    {
        "key": "tllib",
        "text": "Transfer-Learning-Library (TLlib), THUML, Tsinghua University: semi-supervised learning "
        "benchmark, GitHub (a published result on Improvements).",
        "url": "https://github.com/thuml/Transfer-Learning-Library",
    },
]
# The seed report's own nine references, as it lists them (web pages, in its order).
SEED_REFERENCES = [
    (
        "Dipanjan Sarkar, *A Comprehensive Hands-on Guide to Transfer Learning with Real-World Applications "
        "in Deep Learning*, Towards Data Science",
        "https://towardsdatascience.com/a-comprehensive-hands-on-guide-to-transfer-learning-with-real-world-"
        "applications-in-deep-learning-212bf3b2f27a",
    ),
    (
        "TensorFlow guide, *Transfer learning & fine-tuning*",
        "https://www.tensorflow.org/guide/keras/transfer_learning/",
    ),
    ("Keras documentation, *Keras Applications*", "https://keras.io/api/applications/"),
    (
        "TensorFlow API documentation, tf.keras.datasets",
        "https://www.tensorflow.org/api_docs/python/tf/keras/datasets/",
    ),
    ("TensorFlow API documentation, tf.image.resize", "https://www.tensorflow.org/api_docs/python/tf/image/resize"),
    (
        "ResearchGate figure, *Top-level diagram of transfer learning from a pre-trained CNN model*",
        "https://www.researchgate.net/figure/TOP-LEVEL-DIAGRAM-OF-TRANSFER-LEARNING-FROM-A-PRE-TRAINED-CNN-MODEL_fig4_333882146",
    ),
    ("GitHub", "https://github.com/"),
    ("Kaggle", "https://www.kaggle.com/"),
    (
        "*Deep Learning and Transfer Learning*, Towards Data Science",
        "https://towardsdatascience.com/deep-learning-and-transfer-learning-31c6394b10c5",
    ),
]


# One model's runs as they were ---------------------------------------------------------------------


def size_mib(parameters: int) -> float:
    """The weights' size in MiB (2^20 bytes) at 4 bytes per float32 parameter; Keras' model summary,
    and the seed report after it, print this figure with the unit "MB"."""
    return parameters * BYTES_PER_PARAMETER / 2**20


def _seeds(seeds: list[int]) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def model_facts(group) -> dict:
    """What `group`'s runs were, and the cautions a reader needs beside its numbers."""
    config = group.config
    entry = architectures.get(config["model"])
    runs = group.runs
    weights = config.get("weights", "imagenet") if entry.transfer else "none"
    pretrained = entry.transfer and weights != "none"
    train_images = [
        int(run.metrics.get("train_images") or sum(run.manifest["data"]["counts"]["train"])) for run in runs
    ]
    full_train = CIFAR_TRAIN_IMAGES - paper_config(config["model"]).validation_size
    epochs_run = [int(run.metrics["epochs_run"]) for run in runs]
    at_chance, single_class = [], []
    for run in runs:
        interval = test_interval(run)
        if interval["lower"] <= CHANCE:  # cannot be told apart from guessing (or is worse)
            at_chance.append(run.config["seed"])
        predicted = np.unique(np.asarray(run.predictions["probabilities"]).argmax(axis=1))
        if predicted.size == 1:
            names = run.manifest["data"]["class_names"]
            single_class.append({"seed": run.config["seed"], "class": names[int(predicted[0])]})
    image_size = int(config.get("image_size", 32))
    parameters = int(runs[0].metrics["parameters"]["total"])

    cautions = []
    if entry.transfer and not pretrained:
        cautions.append(
            "no ImageNet weights were loaded: it started from random weights, so it is not transfer learning"
        )
    if entry.transfer and image_size < IMAGENET_SIZE:
        cautions.append(f"it saw {image_size} × {image_size} px images, not the {IMAGENET_SIZE} px of ImageNet")
    if max(epochs_run) == 1:
        cautions.append("it trained for a single epoch")
    if max(train_images) < full_train:
        cautions.append(
            f"it trained on {format_count(max(train_images))} images, not the {format_count(full_train)} of the full training split"
        )
    if at_chance:
        which = "" if len(at_chance) == len(runs) else f" ({_seeds(at_chance)})"
        cautions.append(f"its test accuracy cannot be told apart from chance (10 % for ten classes){which}")
    for item in single_class:
        cautions.append(f"seed {item['seed']} predicts {item['class']} for every test image")
    return {
        "model": group.model,
        "label": group.label,
        "transfer": entry.transfer,
        "weights": weights,
        "pretrained": pretrained,
        "image_size": image_size,
        "upsampling": int(config.get("upsampling", 1)) if entry.transfer else 1,
        "max_epochs": int(config["epochs"]),
        "epochs_run": epochs_run,
        "train_images": train_images,
        "full_train": full_train,
        "test_images": int(runs[0].metrics["test_images"]),
        "synthetic": any(run.synthetic for run in runs),
        "profile": config["profile"],
        "at_chance": at_chance,
        "all_at_chance": len(at_chance) == len(runs),
        "single_class": single_class,
        "parameters": parameters,
        "size_mib": size_mib(parameters),
        "cautions": cautions,
        "described": described(entry.transfer, weights, image_size, epochs_run, train_images),
        "summary": f"{group.label}: {described(entry.transfer, weights, image_size, epochs_run, train_images)}",
        "deviations": deviation_sentences(config),
        "commentary": curve_commentary(group),
    }


def described(transfer: bool, weights: str, image_size: int, epochs_run, train_images) -> str:
    """ "random initial weights (no ImageNet weights loaded), 32 × 32 px inputs, 1 epoch run, 1,000 training images"."""
    if not transfer:
        start = "random initial weights (trained from scratch)"
    elif weights == "none":
        start = "random initial weights (no ImageNet weights loaded)"
    elif weights == "imagenet":
        start = "ImageNet weights, fine-tuned"
    else:
        start = "pretrained weights read from a local file, fine-tuned"
    low, high = min(epochs_run), max(epochs_run)
    epochs = f"{low} epoch{'s' if low != 1 else ''}" if low == high else f"{low} to {high} epochs"
    images = format_count(max(train_images))
    return f"{start}, {image_size} × {image_size} px inputs, {epochs} run, {images} training images"


# How a run departs from the seed's protocol, in words -------------------------------------------------


def _upsampling(value: int, paper: int) -> str:
    now = "images kept at 32 × 32 px (no upsampling)" if value == 1 else f"images upsampled {value}× to {32 * value} px"
    return f"{now}, where the seed upsampled them {paper}× to {32 * paper} px"


def _patience(value: int, paper: int) -> str:
    if value == 0:
        return f"no early stopping, where the seed stopped after {paper} epochs without a lower validation loss"
    if paper == 0:
        return f"early stopping after {value} epochs without a lower validation loss, where the seed ran every epoch"
    return f"early stopping after {value} epochs without a lower validation loss instead of {paper}"


_SENTENCES = {
    "epochs": lambda v, p: f"at most {v} epoch{'s' if v != 1 else ''}, where the seed ran {p}",
    "upsampling": _upsampling,
    "train_subset": lambda v, p: (
        f"{format_count(v)} training images, not the whole training split"
        if p == 0
        else f"{format_count(v)} training images instead of {format_count(p)}"
    ),
    "test_subset": lambda v, p: f"{format_count(v)} of the 10,000 test images, not all of them",
    "validation_size": lambda v, p: f"{format_count(v)} validation images held out instead of {format_count(p)}",
    "early_stopping_patience": _patience,
    "learning_rate": lambda v, p: f"an initial learning rate of {v:g} instead of {p:g}",
    "momentum": lambda v, p: f"SGD with momentum {v:g} instead of {p:g}",
    "batch_size": lambda v, p: f"batches of {v} images instead of {p}",
    "lr_constant_epochs": lambda v, p: f"the learning rate held for {v} epochs before it decays instead of {p}",
    "lr_decay_per_epoch": lambda v, p: (
        f"the learning rate multiplied by exp(−{v:g}) per epoch once it decays, instead of exp(−{p:g})"
    ),
    "train_fraction": lambda v, p: f"{v * 100:g} % of the training images (stratified), not all of them",
    "freeze_base": lambda v, p: (
        "the ImageNet body frozen, only the new head trained" if v else "the whole network trained, body included"
    ),
    "dropout": lambda v, p: f"dropout rates {', '.join(map(str, v))} instead of {', '.join(map(str, p))}",
    "precision": lambda v, p: f"{v} precision arithmetic instead of {p}",
    "augmentation": lambda v, p: (
        f"training images augmented ({_AUGMENTATION_WORDS.get(v, v)}), where the seed used none"
    ),
}
_AUGMENTATION_WORDS = {"flip-crop": "flip and pad-and-crop", "randaugment": "RandAugment", "mixup": "MixUp"}
# Not part of the protocol, or derived from it, or said on their own line below. The teacher is
# named by its folder on the machine that trained it, which means nothing on a page: the teacher's
# sentence says what distillation did, with its two constants.
_SKIPPED = {
    "model",
    "profile",
    "seed",
    "arm",
    "deviations",
    "data",
    "weights",
    "image_size",
    "lr_schedule",
    "teacher",
    "distillation_temperature",
    "distillation_alpha",
}


def deviation_sentences(config: dict) -> list[str]:
    """How the run `config` (its config.json) departs from the seed's protocol, one phrase each."""
    model = config["model"]
    paper = json.loads(json.dumps(paper_config(model).to_dict()))  # tuples as lists, as config.json has them
    sentences = []
    data = config.get("data", "cifar10")
    if data == "synthetic":
        sentences.append("synthetic, CIFAR-shaped images instead of CIFAR-10")
    elif data != "cifar10":
        sentences.append("CIFAR-10 read from a local copy instead of the official download")
    if architectures.get(model).transfer:
        weights = config.get("weights", "imagenet")
        if weights == "none":
            sentences.append("random initial weights instead of ImageNet's: no ImageNet weights were loaded")
        elif weights != "imagenet":
            sentences.append("pretrained weights read from a local file instead of Keras' ImageNet download")
    if config.get("teacher"):
        sentences.append(
            "distilled from a trained teacher's logits (temperature "
            f"{config.get('distillation_temperature', 3.0):g}, {config.get('distillation_alpha', 0.5) * 100:g} % of the "
            "loss on the labels) instead of trained on the labels alone"
        )
    for name in sorted(paper):
        if name in _SKIPPED or name not in config or config[name] == paper[name]:
            continue
        say = _SENTENCES.get(name, lambda v, p, name=name: f"{name.replace('_', ' ')} {v} instead of {p}")
        sentences.append(say(config[name], paper[name]))
    return sentences


# What the curves show ---------------------------------------------------------------------------


def _percent(fraction: float) -> str:
    return format_accuracy(fraction * 100)


def curve_commentary(group) -> str:
    """What the training curves of `group`'s lowest seed show, in sentences computed from history.csv."""
    run = group.runs[0]
    history = run.history
    seed = run.config["seed"]
    first, last = history[0], history[-1]
    best_val = max(row["val_accuracy"] for row in history)
    lowest = min(history, key=lambda row: row["val_loss"])
    words = [f"Seed {seed}"]
    if len(history) == 1:
        words.append(
            f"ran a single epoch, so each curve is one point: training loss {first['loss']:.3f}, validation loss "
            f"{first['val_loss']:.3f}, validation accuracy {_percent(first['val_accuracy'])}. One point shows no trend: "
            "neither convergence nor overfitting can be read from it."
        )
    else:
        trend = "fell" if last["loss"] < first["loss"] else "rose"
        words.append(
            f"ran {len(history)} epochs. Training loss {trend} from {first['loss']:.3f} to {last['loss']:.3f}; validation "
            f"loss went from {first['val_loss']:.3f} to {last['val_loss']:.3f} and was lowest at epoch "
            f"{format_epoch(lowest['epoch'])} ({lowest['val_loss']:.3f})."
        )
        after = [row for row in history if row["epoch"] > lowest["epoch"]]
        if after and last["loss"] < lowest["loss"]:
            words.append(
                f"After that epoch validation loss rose while training loss kept falling, over {len(after)} "
                f"epoch{'s' if len(after) != 1 else ''}: the model had begun to fit its training images more "
                "than the held-out ones."
            )
        rises = sum(b["val_loss"] > a["val_loss"] for a, b in zip(history, history[1:]))
        if rises and not after:
            words.append(f"Validation loss rose in {rises} of {len(history) - 1} epochs, yet ended at its lowest.")
        words.append(
            f"Validation accuracy went from {_percent(first['val_accuracy'])} after epoch 1 to "
            f"{_percent(last['val_accuracy'])} after the last (best {_percent(best_val)})."
        )
    if at_chance(best_val, validation_images(run)):
        words.append(
            f"Validation accuracy never rose clearly above chance ({_percent(CHANCE)}): this run did not learn, so its "
            "curves say nothing about how the model trains."
        )
    return " ".join(words)


# The closing paragraph -----------------------------------------------------------------------


def conclusion(models: list[dict], facts: dict, evidence: dict, synthetic: bool) -> list[str]:
    """The Conclusion's sentences, from the model facts, the Discussion's facts and the paired test."""
    sentences = []
    if synthetic:
        sentences.append(
            "These runs were trained and tested on synthetic images, so they answer nothing about CIFAR-10: they show "
            "that the pipeline runs from training to report."
        )
    transfer = [model for model in models if model["transfer"]]
    for model in transfer:
        if not model["pretrained"]:
            epochs = max(model["epochs_run"])
            sentences.append(
                f"No ImageNet weights were loaded, so this build does not test transfer learning: its {model['label']} "
                f"is the architecture alone, trained from random weights for {epochs} epoch{'s' if epochs != 1 else ''} on "
                f"{format_count(max(model['train_images']))} images at {model['image_size']} px."
            )
    pair = facts.get("pair")
    if pair:
        by_label = {model["label"]: model for model in models}
        winner, loser = pair["winner"], pair["loser"]
        if pair["level"]:
            sentences.append(
                f"On the test set the two models are level ({format_accuracy(winner['test'])} and "
                f"{format_accuracy(loser['test'])})."
            )
        else:
            paired = evidence.get("paired") or []
            tested = ""
            if len(paired) == 1:
                tested = ", a significant difference" if paired[0]["significant"] else ", not a significant difference"
            elif paired:
                significant = sum(bool(item["significant"]) for item in paired)
                tested = f", significant for {significant} of {len(paired)} seeds"
            sentences.append(
                f"{winner['label']} reached {format_accuracy(winner['test'])} test accuracy and {loser['label']} "
                f"{format_accuracy(loser['test'])}, {format_pp(pair['margin'])} apart{tested}."
            )
        stuck = by_label.get(loser["label"], {})
        if stuck.get("all_at_chance"):
            sentences.append(
                f"{loser['label']} stayed at chance, so the gap says only that it did not learn in this build, not "
                f"that {winner['label']} is the better model."
            )
        sentences.append(
            f"{pair['bigger']['label']} has {pair['parameter_ratio']:.1f} × the parameters of {pair['smaller']['label']} "
            f"({size_mib(pair['bigger']['parameters']):.1f} MiB of float32 weights against "
            f"{size_mib(pair['smaller']['parameters']):.1f} MiB)"
            + (
                f" and its run took {pair['time_ratio']:.1f} × the wall time."
                if pair["time_ratio"] is not None
                else "."
            )
        )
    paper = all(model["profile"] == "paper" for model in models) and not synthetic
    if paper and all(model["pretrained"] or not model["transfer"] for model in models):
        sentences.append(
            "These runs follow the seed report's protocol on CIFAR-10, so its published figures (References) can be "
            "set beside them; the Comparison page does so."
        )
    else:
        sentences.append(
            "The seed report's published figures (95.33 % and 77 %) come from CIFAR-10 under its own protocol; this "
            "build does not follow that protocol, so they are not comparable with its numbers. To answer the "
            "question itself, build the paper profile on a GPU: ImageNet weights, 224 px, the seed's epochs, "
            "all of CIFAR-10."
        )
    return sentences


def narrative_context(groups, facts: dict, evidence: dict, synthetic: bool) -> dict:
    """The `narrative` part of the template context."""
    models = [model_facts(group) for group in groups]
    return {
        "models": models,
        "by_label": {model["label"]: model for model in models},
        "cautions": [model for model in models if model["cautions"]],
        "conclusion": conclusion(models, facts, evidence, synthetic),
        "seed_source": SEED_REPORT_SOURCE,
        "seed_figures": SEED_FIGURES,
        "references": REFERENCES,
        "seed_references": SEED_REFERENCES,
        # The seed's figures may stand beside ours only for real CIFAR-10 runs.
        "comparable": not synthetic,
    }
