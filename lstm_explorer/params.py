"""The parameter registry: every knob of an experiment, declared once.

Widgets, validation, share links, code export and the Parameter Guide are all generated
from the `Param` entries below; no other module keeps a list of defaults. The layer
entries mirror `keras.layers.LSTM.__init__` argument for argument (a test compares them
with `inspect.signature`), with Keras's own defaults.

Values that name a Keras object (initializers, regularizers, constraints) take Keras's
own forms: an identifier string such as `"orthogonal"`, or the dict form
`{"class_name": "Orthogonal", "config": {"gain": 2.0}}`. Only the classes in the
catalogs below are allowed, so a config can never make Keras instantiate anything else.

Example:

>>> from lstm_explorer import params
>>> params.layer_param("units").default
32
>>> params.layer_param("recurrent_initializer").default
'orthogonal'
>>> sorted(params.REGULARIZERS)
['L1', 'L1L2', 'L2', 'OrthogonalRegularizer']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Sections of an experiment config, in the order a person fills them in.
SECTIONS = ("task", "model", "layer", "training")

# Kinds of values; each kind has one validator in `config.py` and one widget in `ui/`.
INT, FLOAT, BOOL, CHOICE, TEXT = "int", "float", "bool", "choice", "text"
ACTIVATION, INITIALIZER, REGULARIZER, CONSTRAINT = (
    "activation",
    "initializer",
    "regularizer",
    "constraint",
)
EMBEDDING = "embedding"

CELLS = ("lstm", "gru", "simple_rnn")
TASKS = ("adding", "recall", "sine", "tokens", "csv", "series", "chars")
# The real series of the series task (lstm_explorer/datasets/series.py has their details;
# a test keeps the two lists equal).
SERIES = ("sunspots", "co2", "nile", "elnino", "unemployment")


@dataclass(frozen=True)
class Param:
    """One knob: its name, kind, default, bounds and the text that explains it.

    Args:
        name: the key in its section; for layers, the `keras.layers.LSTM` argument name.
        section: one of `SECTIONS`: `"task"`, `"model"`, `"layer"` (one value per
            recurrent layer) or `"training"`.
        kind: how the value is typed and checked: `"int"`, `"float"`, `"bool"`,
            `"choice"`, `"text"`, `"activation"`, `"initializer"`, `"regularizer"`,
            `"constraint"` or `"embedding"`.
        default: the value used when a config leaves the key out. For layer
            arguments, Keras's own default.
        help: what it does, when to change it and what it costs, for a student.
        group: the heading it is shown under (e.g. `"structural"`, `"initializers"`).
        keras_group: `"structural"` or `"training"`, as the Keras docs group the
            LSTM arguments; empty for knobs that are not LSTM arguments.
        label: the short name shown on a widget. Default: derived from `name`.
        minimum: smallest allowed number, inclusive. Default: `None` (no bound).
        maximum: largest allowed number, inclusive. Default: `None` (no bound).
        choices: the allowed values of a `"choice"`. Default: `()`.
        nullable: whether `None` is allowed (shown as "none"). Default: `False`.
        log: whether a slider for it should move on a log scale. Default: `False`.
        applies_to: the cells (for layer and model knobs) or tasks (for task knobs) it
            means something for; empty means all. Default: `()`.

    Example:

    >>> Param("lag", "task", INT, 10, "How far back.", minimum=0, maximum=999).label
    'Lag'
    """

    name: str
    section: str
    kind: str
    default: Any
    help: str
    group: str = ""
    keras_group: str = ""
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    nullable: bool = False
    log: bool = False
    applies_to: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").capitalize())

    @property
    def path(self) -> str:
        """The dotted key used in share links and error messages, e.g. `training.epochs`."""
        return f"{self.section}.{self.name}"

    def applies(self, context: str) -> bool:
        """Whether this knob means something for a cell or task name."""
        return not self.applies_to or context in self.applies_to


@dataclass(frozen=True)
class KerasClass:
    """An allowed Keras class for initializer, regularizer or constraint arguments.

    Args:
        class_name: the Keras class name, e.g. `"Orthogonal"`.
        identifier: the snake_case string Keras also accepts, e.g. `"orthogonal"`.
        help: one sentence on what it does.
        args: the constructor arguments that may be set, as `Param`s with Keras's
            defaults and sensible bounds. Default: `()`.
        seeded: whether the class takes a `seed` (the model builder derives one from
            the training seed when none is given, so that runs reproduce). Default:
            `False`.
        matrix_only: whether it works on matrices only, so not on the bias vector.
            Default: `False`.
    """

    class_name: str
    identifier: str
    help: str
    args: tuple[Param, ...] = ()
    seeded: bool = False
    matrix_only: bool = False

    def arg(self, name: str) -> Param:
        for param in self.args:
            if param.name == name:
                return param
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {param.name: param.default for param in self.args}


def _arg(name, kind, default, help, **bounds) -> Param:
    return Param(name, "argument", kind, default, help, **bounds)


_SEED_HELP = "Seed of the random draw; empty means derived from the training seed."
_AXIS = _arg("axis", INT, 0, "Axis along which norms are taken (0: per output unit).",
             minimum=0, maximum=1)

INITIALIZERS: dict[str, KerasClass] = {
    spec.class_name: spec
    for spec in (
        KerasClass("GlorotUniform", "glorot_uniform",
                   "Uniform with limit sqrt(6 / (fan_in + fan_out)): keeps signal "
                   "variance steady through a layer.", seeded=True),
        KerasClass("GlorotNormal", "glorot_normal",
                   "Truncated normal with stddev sqrt(2 / (fan_in + fan_out)).", seeded=True),
        KerasClass("HeUniform", "he_uniform",
                   "Uniform with limit sqrt(6 / fan_in): made for relu layers.", seeded=True),
        KerasClass("HeNormal", "he_normal",
                   "Truncated normal with stddev sqrt(2 / fan_in): made for relu layers.",
                   seeded=True),
        KerasClass("LecunUniform", "lecun_uniform",
                   "Uniform with limit sqrt(3 / fan_in): made for selu layers.", seeded=True),
        KerasClass("LecunNormal", "lecun_normal",
                   "Truncated normal with stddev sqrt(1 / fan_in).", seeded=True),
        KerasClass("Orthogonal", "orthogonal",
                   "A random orthogonal matrix times `gain`: repeated multiplication "
                   "neither shrinks nor grows a vector, which is why it is the default "
                   "for recurrent weights.",
                   args=(_arg("gain", FLOAT, 1.0, "Multiplies the orthogonal matrix.",
                              minimum=0.0, maximum=10.0),),
                   seeded=True, matrix_only=True),
        KerasClass("Identity", "identity",
                   "The identity matrix times `gain` (rectangular matrices get ones on "
                   "the diagonal).",
                   args=(_arg("gain", FLOAT, 1.0, "Multiplies the identity matrix.",
                              minimum=0.0, maximum=10.0),),
                   matrix_only=True),
        KerasClass("RandomNormal", "random_normal", "Normal distribution.",
                   args=(_arg("mean", FLOAT, 0.0, "Mean.", minimum=-10.0, maximum=10.0),
                         _arg("stddev", FLOAT, 0.05, "Standard deviation.",
                              minimum=0.0, maximum=10.0)),
                   seeded=True),
        KerasClass("RandomUniform", "random_uniform", "Uniform distribution.",
                   args=(_arg("minval", FLOAT, -0.05, "Lower bound.",
                              minimum=-10.0, maximum=10.0),
                         _arg("maxval", FLOAT, 0.05, "Upper bound.",
                              minimum=-10.0, maximum=10.0)),
                   seeded=True),
        KerasClass("TruncatedNormal", "truncated_normal",
                   "Normal distribution, redrawn beyond two standard deviations.",
                   args=(_arg("mean", FLOAT, 0.0, "Mean.", minimum=-10.0, maximum=10.0),
                         _arg("stddev", FLOAT, 0.05, "Standard deviation.",
                              minimum=0.0, maximum=10.0)),
                   seeded=True),
        KerasClass("VarianceScaling", "variance_scaling",
                   "The general form behind Glorot, He and LeCun: variance scale / n.",
                   args=(_arg("scale", FLOAT, 1.0, "Scaling factor.",
                              minimum=0.0, maximum=100.0),
                         _arg("mode", CHOICE, "fan_in", "Which n divides the scale.",
                              choices=("fan_in", "fan_out", "fan_avg")),
                         _arg("distribution", CHOICE, "truncated_normal",
                              "Distribution drawn from.",
                              choices=("truncated_normal", "untruncated_normal",
                                       "uniform"))),
                   seeded=True),
        KerasClass("Zeros", "zeros", "All zeros."),
        KerasClass("Ones", "ones", "All ones."),
        KerasClass("Constant", "constant", "Every weight the same value.",
                   args=(_arg("value", FLOAT, 0.0, "The value.",
                              minimum=-100.0, maximum=100.0),)),
    )
}

REGULARIZERS: dict[str, KerasClass] = {
    spec.class_name: spec
    for spec in (
        KerasClass("L1", "l1", "Adds l1 · sum(|w|) to the loss: pushes weights to exactly 0.",
                   args=(_arg("l1", FLOAT, 0.01, "Strength.", minimum=0.0, maximum=10.0,
                              log=True),)),
        KerasClass("L2", "l2", "Adds l2 · sum(w²) to the loss: keeps weights small.",
                   args=(_arg("l2", FLOAT, 0.01, "Strength.", minimum=0.0, maximum=10.0,
                              log=True),)),
        # Keras's L1L2 class defaults to 0.0 for both (so that L1L2(l2=0.1) adds no L1
        # penalty), and so does the name "l1l2" in Keras 3: picked as it is, it would
        # penalise nothing. Keras's docs promise 0.01 each for the name, the strength L1
        # and L2 start from alone; so the name and the class start from that here.
        KerasClass("L1L2", "l1l2",
                   "Both penalties at once. Starts from 0.01 each, as L1 and L2 alone do and "
                   "as Keras's docs promise for the name; Keras 3's bare L1L2 class "
                   "defaults to 0 for both, which penalises nothing.",
                   args=(_arg("l1", FLOAT, 0.01, "L1 strength (0: no L1 penalty).",
                              minimum=0.0, maximum=10.0, log=True),
                         _arg("l2", FLOAT, 0.01, "L2 strength (0: no L2 penalty).",
                              minimum=0.0, maximum=10.0, log=True))),
        KerasClass("OrthogonalRegularizer", "orthogonal_regularizer",
                   "Penalises rows (or columns) that are not orthogonal to each other.",
                   args=(_arg("factor", FLOAT, 0.01, "Strength.", minimum=0.0,
                              maximum=10.0, log=True),
                         _arg("mode", CHOICE, "rows", "Which vectors to compare.",
                              choices=("rows", "columns"))),
                   matrix_only=True),
    )
}

CONSTRAINTS: dict[str, KerasClass] = {
    spec.class_name: spec
    for spec in (
        KerasClass("MaxNorm", "max_norm",
                   "After each update, rescales weight vectors whose norm exceeds max_value.",
                   args=(_arg("max_value", FLOAT, 2.0, "Largest allowed norm.",
                              minimum=0.0, maximum=100.0), _AXIS)),
        KerasClass("MinMaxNorm", "min_max_norm",
                   "Keeps the norm of each weight vector between two bounds.",
                   args=(_arg("min_value", FLOAT, 0.0, "Smallest norm.",
                              minimum=0.0, maximum=100.0),
                         _arg("max_value", FLOAT, 1.0, "Largest norm.",
                              minimum=0.0, maximum=100.0),
                         _arg("rate", FLOAT, 1.0, "How far to move toward the bounds "
                              "per update (1: all the way).", minimum=0.0, maximum=1.0),
                         _AXIS)),
        KerasClass("NonNeg", "non_neg", "Clips negative weights to 0 after each update."),
        KerasClass("UnitNorm", "unit_norm", "Rescales each weight vector to norm 1.",
                   args=(_AXIS,)),
    )
}

CATALOGS: dict[str, dict[str, KerasClass]] = {
    INITIALIZER: INITIALIZERS,
    REGULARIZER: REGULARIZERS,
    CONSTRAINT: CONSTRAINTS,
}

# Element-wise activations only: softmax, log_softmax, glu and sparsemax mix units (or
# halve them) and threshold needs arguments, so they make no sense inside a cell.
ACTIVATIONS = (
    "tanh", "sigmoid", "hard_sigmoid", "relu", "relu6", "leaky_relu", "elu", "selu",
    "celu", "gelu", "silu", "hard_silu", "mish", "softsign", "softplus", "linear",
    "hard_tanh", "log_sigmoid", "sparse_sigmoid", "squareplus", "sparse_plus",
    "tanh_shrink", "soft_shrink", "hard_shrink", "exponential",
)

ACTIVATION_NOTES = {
    "tanh": "squashes to (-1, 1); the standard choice, required by the cuDNN kernel",
    "sigmoid": "squashes to (0, 1); the standard gate activation, required by cuDNN",
    "hard_sigmoid": "piecewise-linear sigmoid, relu6(x + 3) / 6 in Keras 3",
    "relu": "unbounded above: the cell can blow up and gradients can explode",
    "linear": "no squashing at all: states grow without bound",
    "exponential": "grows very fast; a way to watch training diverge",
}


def _layer(name, kind, default, help, group, keras_group, **extra) -> Param:
    return Param(name, "layer", kind, default, help, group=group,
                 keras_group=keras_group, **extra)


STRUCTURAL, TRAINING_GROUP = "structural", "training"

LAYER_PARAMS: tuple[Param, ...] = (
    _layer("units", INT, 32,
           "Size of the hidden state h and the cell state c: how many numbers the layer "
           "remembers. More units learn more complex patterns but cost "
           "4·(units·(inputs+units)+units) weights and more time per step; too many "
           "overfit a small data set. Keras has no default for units; 32 is ours.",
           "structural", STRUCTURAL, minimum=1, maximum=1024, log=True),
    _layer("activation", ACTIVATION, "tanh",
           "Squashes the candidate g and the cell state before it becomes h. tanh keeps "
           "both in (-1, 1). relu or linear let them grow without bound, which can "
           "make gradients explode. Anything but tanh turns off the fused cuDNN kernel.",
           "structural", STRUCTURAL, choices=ACTIVATIONS),
    _layer("recurrent_activation", ACTIVATION, "sigmoid",
           "The activation of the input, forget and output gates. A sigmoid keeps each "
           "gate an on/off fraction in (0, 1); change it only to study gating. Anything "
           "but sigmoid turns off the cuDNN kernel.",
           "structural", STRUCTURAL, choices=ACTIVATIONS, applies_to=("lstm", "gru")),
    _layer("use_bias", BOOL, True,
           "Whether each gate adds a learned bias b. Turning it off removes 4·units "
           "weights and the forget-gate bias trick, and turns off cuDNN.",
           "structural", STRUCTURAL),
    _layer("kernel_initializer", INITIALIZER, "glorot_uniform",
           "How the input weights W (input → 4 gates) start. The default keeps the "
           "signal's variance steady; change it to see how a bad start slows learning.",
           "initializers", TRAINING_GROUP),
    _layer("recurrent_initializer", INITIALIZER, "orthogonal",
           "How the recurrent weights U (h_(t-1) → 4 gates) start. Orthogonal U neither "
           "shrinks nor grows the state from step to step; a small random normal makes "
           "the gradient vanish over long sequences.",
           "initializers", TRAINING_GROUP),
    _layer("bias_initializer", INITIALIZER, "zeros",
           "How the gate biases start (see unit_forget_bias for the forget gate).",
           "initializers", TRAINING_GROUP),
    _layer("unit_forget_bias", BOOL, True,
           "Start the forget-gate bias at 1 (it replaces the initializer for that slice), "
           "so the forget gate starts near 0.73 and the cell remembers by default. "
           "Turning it off makes early training forget, and the gradient through the "
           "cell state shrinks faster.",
           "initializers", TRAINING_GROUP, applies_to=("lstm",)),
    _layer("kernel_regularizer", REGULARIZER, None,
           "A penalty on the input weights W added to the loss, against overfitting. "
           "Costs a little time; too strong and the model underfits.",
           "regularizers", TRAINING_GROUP, nullable=True),
    _layer("recurrent_regularizer", REGULARIZER, None,
           "A penalty on the recurrent weights U added to the loss.",
           "regularizers", TRAINING_GROUP, nullable=True),
    _layer("bias_regularizer", REGULARIZER, None,
           "A penalty on the biases added to the loss (rarely useful).",
           "regularizers", TRAINING_GROUP, nullable=True),
    _layer("activity_regularizer", REGULARIZER, None,
           "A penalty on the layer's output h added to the loss: keeps activations small.",
           "regularizers", TRAINING_GROUP, nullable=True),
    _layer("kernel_constraint", CONSTRAINT, None,
           "Projects W back into a set after every update (e.g. a maximum norm).",
           "constraints", TRAINING_GROUP, nullable=True),
    _layer("recurrent_constraint", CONSTRAINT, None,
           "Projects U back into a set after every update: a max norm on U is one way "
           "to stop exploding states.",
           "constraints", TRAINING_GROUP, nullable=True),
    _layer("bias_constraint", CONSTRAINT, None,
           "Projects the biases back into a set after every update.",
           "constraints", TRAINING_GROUP, nullable=True),
    _layer("dropout", FLOAT, 0.0,
           "Fraction of the inputs x_t dropped at random during training, against "
           "overfitting. Training only; the cuDNN kernel still works with it.",
           "dropout", TRAINING_GROUP, minimum=0.0, maximum=0.95),
    _layer("recurrent_dropout", FLOAT, 0.0,
           "Fraction of the recurrent state h_(t-1) dropped at random during training. "
           "Regularises the memory itself, but any value above 0 turns off the cuDNN "
           "kernel and is much slower on a GPU.",
           "dropout", TRAINING_GROUP, minimum=0.0, maximum=0.95),
    _layer("seed", INT, None,
           "Seed for the dropout masks. Empty: derived from the training seed, so a "
           "share link reproduces the run.",
           "dropout", TRAINING_GROUP, nullable=True, minimum=0, maximum=2**31 - 1),
    _layer("return_sequences", BOOL, False,
           "Return h at every step (batch, steps, units) instead of only the last "
           "(batch, units). Set automatically on a layer that feeds another recurrent "
           "layer. On the last layer it makes the head predict at every step (tasks "
           "recall, sine, csv).",
           "structural", STRUCTURAL),
    _layer("return_state", BOOL, False,
           "Also return the final h and c, e.g. to start a decoder from them. The "
           "explorer builds with the functional API so the states are reachable.",
           "structural", STRUCTURAL),
    _layer("go_backwards", BOOL, False,
           "Read the sequence from the last step to the first. Traces are shown in "
           "processing order, so step 0 is the last input.",
           "structural", STRUCTURAL),
    _layer("stateful", BOOL, False,
           "Carry h and c from one batch to the next (sample i of a batch continues "
           "sample i of the previous one) for streams longer than one sequence. Needs a "
           "fixed batch size, no shuffling and a state reset each epoch; the trainer "
           "does all three and says so.",
           "structural", STRUCTURAL),
    _layer("unroll", BOOL, False,
           "Build one graph node per step instead of a loop: faster for short "
           "sequences, slow to compile and memory-hungry for long ones. Turns off cuDNN.",
           "structural", STRUCTURAL),
    _layer("use_cudnn", CHOICE, "auto",
           "Whether to use the fused cuDNN kernel on a GPU: 'auto' uses it when the "
           "settings allow, True insists (and fails if they do not), False never.",
           "structural", STRUCTURAL, choices=("auto", True, False),
           applies_to=("lstm", "gru")),
)

MODEL_PARAMS: tuple[Param, ...] = (
    Param("cell", "model", CHOICE, "lstm",
          "The recurrent cell. lstm is the subject; gru (two gates, no cell state) and "
          "simple_rnn (no gates at all) are there for contrast: watch how much gradient "
          "reaches the early steps in each.",
          group="model", choices=CELLS),
    Param("num_layers", "model", INT, 1,
          "How many recurrent layers are stacked. Every layer but the last returns its "
          "whole sequence to the next one.",
          group="model", label="Stacked layers", minimum=1, maximum=4),
    Param("bidirectional", "model", BOOL, False,
          "Wrap each recurrent layer in Bidirectional: a second copy reads the sequence "
          "backwards and the two outputs are merged. Doubles the weights and time.",
          group="model"),
    Param("merge_mode", "model", CHOICE, "concat",
          "How Bidirectional merges the two directions.",
          group="model", choices=("concat", "sum", "mul", "ave")),
    Param("embedding", "model", EMBEDDING, None,
          "An Embedding layer in front that turns ids into learned vectors (output_dim "
          "numbers each). Needed by the tokens and chars tasks, which feed token or "
          "character ids; meaningless for the others, which feed numbers.",
          group="model", nullable=True),
)

EMBEDDING_ARGS: tuple[Param, ...] = (
    _arg("output_dim", INT, 64, "Length of each token vector.", minimum=1, maximum=1024),
    _arg("input_dim", INT, None, "Vocabulary size; empty means the task's vocabulary.",
         minimum=2, maximum=100000, nullable=True),
)

TRAINING_PARAMS: tuple[Param, ...] = (
    Param("optimizer", "training", CHOICE, "adam",
          "The update rule. adam adapts a step size per weight and is the safe choice; "
          "sgd shows raw gradient descent; rmsprop is the classic for RNNs.",
          group="training", choices=("adam", "sgd", "rmsprop", "adamw", "adagrad")),
    # 0.01 rather than Adam's 0.001: with 0.001 the default adding problem stays at the
    # always-1.0 answer for all 10 epochs (bench/default_learns.py).
    Param("learning_rate", "training", FLOAT, 0.01,
          "Size of each update. Too small: nothing moves; too large: the loss jumps or "
          "becomes NaN (try clipnorm). Keras's Adam starts from 0.001; ours is 0.01, "
          "which lets the default experiment learn within 10 epochs.",
          group="training", minimum=1e-6, maximum=10.0, log=True),
    Param("clipnorm", "training", FLOAT, None,
          "Rescale each weight's gradient so its norm is at most this: the standard "
          "cure for exploding gradients in RNNs. Empty: no clipping.",
          group="training", minimum=1e-4, maximum=1000.0, nullable=True, log=True),
    Param("clipvalue", "training", FLOAT, None,
          "Clip every gradient element to [-clipvalue, clipvalue]. Empty: no clipping.",
          group="training", minimum=1e-4, maximum=1000.0, nullable=True, log=True),
    # Keras's own fit() default; twice the updates per epoch of 64 for the same data.
    Param("batch_size", "training", INT, 32,
          "Sequences per update. Small batches give noisy, frequent updates; large "
          "ones smooth but fewer. A stateful layer keeps this batch size fixed.",
          group="training", minimum=1, maximum=4096, log=True),
    Param("epochs", "training", INT, 10,
          "Passes over the training data. More epochs let the loss fall further, "
          "until the model starts to overfit (val_loss rises).",
          group="training", minimum=1, maximum=1000),
    Param("loss", "training", CHOICE, "auto",
          "What training minimises. auto picks the task's natural loss: mse for "
          "regression, sparse categorical cross-entropy for recall, binary "
          "cross-entropy for tokens.",
          group="training",
          choices=("auto", "mse", "mae", "huber", "sparse_categorical_crossentropy",
                   "binary_crossentropy")),
    Param("validation_split", "training", FLOAT, 0.2,
          "Fraction of the samples held out to measure generalisation (val_loss); at "
          "most 0.8, so that a fifth of them or more is left to train on.",
          group="training", minimum=0.0, maximum=0.8),
    Param("seed", "training", INT, 0,
          "Seeds the weights, dropout masks and shuffling: the same seed gives the same "
          "run, so a share link reproduces it.",
          group="training", minimum=0, maximum=2**31 - 1),
)

TASK_PARAMS: tuple[Param, ...] = (
    Param("name", "task", CHOICE, "adding",
          "What the model learns: adding (sum two marked numbers), recall (repeat the "
          "symbol seen lag steps ago), sine (forecast the next value), tokens (classify "
          "token sequences, with an Embedding), csv (your own time series), series (a "
          "real time series: sunspots, CO2, the Nile, ...) or chars (the next character "
          "of Python source code).",
          group="task", label="Task", choices=TASKS),
    # 20 steps: a lag the default LSTM learns to bridge in 10 epochs for every seed; the
    # 50-step failure is the preset "vanishing_adding".
    Param("seq_len", "task", INT, 20,
          "Time steps per sequence. Longer sequences need memory over more steps and "
          "make vanishing gradients visible.",
          group="task", label="Sequence length", minimum=2, maximum=2000),
    Param("n_samples", "task", INT, 2000,
          "How many sequences are generated (training + validation).",
          group="task", label="Samples", minimum=16, maximum=200000, log=True),
    Param("seed", "task", INT, 0,
          "Seeds the data generator: the same seed gives the same data.",
          group="task", minimum=0, maximum=2**31 - 1),
    Param("lag", "task", INT, 10,
          "How many steps before the end the symbol to recall appears: the distance "
          "the memory must bridge. Raise it to make the gradient vanish.",
          group="task", minimum=0, maximum=1999, applies_to=("recall",)),
    Param("n_symbols", "task", INT, 8,
          "How many different symbols the recall task draws from.",
          group="task", label="Symbols", minimum=2, maximum=64, applies_to=("recall",)),
    Param("noise", "task", FLOAT, 0.05,
          "Standard deviation of the Gaussian noise added to the sine waves.",
          group="task", minimum=0.0, maximum=2.0, applies_to=("sine",)),
    Param("stream", "task", BOOL, False,
          "One continuous wave cut into consecutive windows instead of independent "
          "waves: the setting for a stateful layer, which carries its state from one "
          "window to the next.",
          group="task", applies_to=("sine",)),
    Param("vocab_size", "task", INT, 100,
          "How many different tokens (id 0 is reserved for padding).",
          group="task", label="Vocabulary", minimum=4, maximum=20000,
          applies_to=("tokens",)),
    Param("column", "task", TEXT, "",
          "The CSV column to model: a header name or a 0-based index. Empty: the first "
          "numeric column.",
          group="task", applies_to=("csv",)),
    Param("path", "task", TEXT, "",
          "Path of the CSV file (command line only; in the app, upload the file).",
          group="task", applies_to=("csv",)),
    Param("dataset", "task", CHOICE, "sunspots",
          "Which real series to forecast, all shipped inside the statsmodels package: "
          "sunspots (yearly, 1700-2008, an 11-year cycle), co2 (monthly at Mauna Loa, "
          "1958-2001, a rise with a yearly cycle), nile (the Nile's yearly flow, "
          "1871-1970, 100 values), elnino (monthly sea temperature off Peru, 1950-2010) or "
          "unemployment (US, quarterly, 1959-2009).",
          group="task", label="Series", choices=SERIES, applies_to=("series",)),
    Param("horizon", "task", INT, 1,
          "How many steps after the last value of a window its target lies: 1 forecasts "
          "the next value; larger horizons are harder, and so is the naive forecast "
          "(repeating the last value) they are compared with.",
          group="task", minimum=1, maximum=100, applies_to=("series",)),
    Param("relative", "task", BOOL, False,
          "Shift each window and its targets so that the window starts at 0: the model "
          "sees the shape of the recent past, not its level. Needed for a series with a "
          "trend (co2), whose validation years lie above every training value; it loses "
          "the level, which helps for a series that returns to it (sunspots).",
          group="task", label="Relative to window start", applies_to=("series",)),
)

ALL_PARAMS: tuple[Param, ...] = TASK_PARAMS + MODEL_PARAMS + LAYER_PARAMS + TRAINING_PARAMS

_BY_SECTION: dict[str, dict[str, Param]] = {section: {} for section in SECTIONS}
for _param in ALL_PARAMS:
    _BY_SECTION[_param.section][_param.name] = _param


def section_params(section: str) -> dict[str, Param]:
    """The entries of one section by name, in declaration order.

    Args:
        section: one of `SECTIONS`.
    """
    if section not in _BY_SECTION:
        raise ValueError(f"section={section!r}: expected one of {', '.join(SECTIONS)}")
    return _BY_SECTION[section]


def layer_param(name: str) -> Param:
    """The registry entry of one `keras.layers.LSTM` argument, e.g. `"units"`."""
    return _BY_SECTION["layer"][name]


def get(path: str) -> Param:
    """The entry for a dotted path such as `"training.epochs"` or `"layer.units"`."""
    section, _, name = path.partition(".")
    params = section_params(section)
    if name not in params:
        raise KeyError(f"{path!r} is not a parameter; {section} has {', '.join(params)}")
    return params[name]


def defaults(section: str) -> dict[str, Any]:
    """Default values of a section, e.g. `defaults("training")["epochs"] == 10`."""
    return {name: param.default for name, param in section_params(section).items()}


def identifier_class(kind: str, identifier: str) -> KerasClass | None:
    """Find a catalog entry by class name or snake_case identifier, else `None`."""
    catalog = CATALOGS[kind]
    if identifier in catalog:
        return catalog[identifier]
    for spec in catalog.values():
        if spec.identifier == identifier:
            return spec
    return None
