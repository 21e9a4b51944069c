"""The latent world: tasks made of steps, videos that perform them, and features rendered from frames.

Every concept has a latent unit vector (a hyponym leans on its hypernym: "man" on "person"); each
video shows its own instance of it (the vector plus a per-video deviation). At second t a video's
latent frame state is the salience-weighted sum of the concepts present at t (objects for their
step's span, actions peaking inside it, the task's other objects lying around at low strength)
plus the video's scene vector plus noise that drifts smoothly over time. Each feature type sees
that state through its own gains
(appearance: objects strong, actions weak; motion: the reverse; joint: both), its own fixed random
projection with a tanh, and its own noise, sampled at its own rate. Nothing here knows about any
model: the world only makes content words grounded in frames and function words not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from taco.data.synthetic import vocabulary as vocab
from taco.data.synthetic.vocabulary import VOCABULARY, Event
from taco.features.store import FEATURE_RATES

LATENT_DIM = 64
OBJECT_RAMP_S = 0.75  # objects fade in and out over this many seconds
INSTANCE_VARIATION = 1.25  # how much one video's instance of a concept differs from the concept
CLUTTER_STRENGTH = 0.4  # the task's objects lying around for the whole video
OPEN_PLACE_STRENGTH = 1.2  # the place of an open-domain video, visible throughout


@dataclass(frozen=True)
class FeatureType:
    """How one backbone sees the latent frame state (rows = rate * seconds, docs/data_formats.md)."""

    name: str
    width: int
    object_gain: float  # weight of objects and attributes in what it sees
    action_gain: float
    scene_gain: float
    drift_noise: float  # weight of the shared, smoothly drifting frame noise
    feature_noise: float  # its own i.i.d. noise per row and dimension, after the tanh
    projection_scale: float = 2.0  # larger = more saturated tanh

    @property
    def rate(self) -> float:
        return FEATURE_RATES[self.name]

    def rows(self, duration: float) -> int:
        """Rows of a ``duration``-second video: ceil(duration * rate), at least one."""
        return max(1, math.ceil(duration * self.rate - 1e-9))


FEATURE_TYPES: dict[str, FeatureType] = {
    # appearance-like: objects strong, actions weak
    "r152": FeatureType("r152", 256, object_gain=1.0, action_gain=0.25, scene_gain=1.5,
                        drift_noise=0.55, feature_noise=0.35),
    # motion-like (I3D-X101, 1.5 rows/s): actions strong, objects weak
    "i3d_x101": FeatureType("i3d_x101", 256, object_gain=0.3, action_gain=1.0, scene_gain=1.2,
                            drift_noise=0.55, feature_noise=0.4),
    # joint and stronger (S3D trained on HowTo100M): both, less noise
    "s3d_hm": FeatureType("s3d_hm", 192, object_gain=1.0, action_gain=0.8, scene_gain=1.2,
                          drift_noise=0.4, feature_noise=0.25),
}

SCENE_DOMAINS = ("cooking", "diy", "open")


@dataclass(frozen=True)
class Appearance:
    """A concept visible from ``start`` to ``end`` seconds; an action peaks at ``peak``."""

    concept: str
    start: float
    end: float
    strength: float = 1.0
    peak: float | None = None
    spread: float | None = None


@dataclass
class LatentVideo:
    """What a video shows; ``noise_seed`` fixes its scene vector and every noise draw."""

    video_id: str
    duration: float
    domain: str  # one of SCENE_DOMAINS: which shared scene component its background has
    noise_seed: int
    appearances: list[Appearance] = field(default_factory=list)


class ConceptSpace:
    """Latent vectors of every concept and scene domain, and the projections of every feature type."""

    def __init__(self, seed: int):
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        keys = sorted(VOCABULARY)
        raw = {key: _unit(rng.standard_normal(LATENT_DIM)) for key in keys}
        self.vectors: dict[str, np.ndarray] = {}
        for key in keys:
            parent = VOCABULARY[key].parent
            vector = raw[key] if parent is None else _unit(0.55 * raw[parent] + 0.85 * raw[key])
            self.vectors[key] = vector.astype(np.float32)
        self.scenes = {d: _unit(rng.standard_normal(LATENT_DIM)).astype(np.float32) for d in SCENE_DOMAINS}
        # a mild per-concept visibility jitter on top of the table's salience
        self.salience = {key: float(VOCABULARY[key].salience * rng.uniform(0.75, 1.25)) for key in keys}
        self.projections = {
            name: (rng.standard_normal((LATENT_DIM, ft.width)) * ft.projection_scale / math.sqrt(LATENT_DIM)
                   ).astype(np.float32)
            for name, ft in sorted(FEATURE_TYPES.items())
        }

    def render(self, video: LatentVideo, feature_name: str) -> np.ndarray:
        """(rows, width) float32 features of one type (not yet normalised), deterministic per video."""
        ft = FEATURE_TYPES[feature_name]
        times = (np.arange(ft.rows(video.duration), dtype=np.float64) + 0.5) / ft.rate
        objects, actions = self._evidence(video, times)
        scene, drift = self._scene_and_drift(video, times)
        state = ft.object_gain * objects + ft.action_gain * actions + ft.scene_gain * scene + ft.drift_noise * drift
        type_index = sorted(FEATURE_TYPES).index(feature_name)
        rng = np.random.default_rng([self.seed, 2, video.noise_seed, type_index])
        values = np.tanh(state @ self.projections[feature_name])
        values += ft.feature_noise * rng.standard_normal(values.shape, dtype=np.float32)
        return values

    def instances(self, video: LatentVideo) -> dict[str, np.ndarray]:
        """This video's look of each concept it shows: the concept's vector plus an instance-specific
        deviation (this onion, this kitchen's light), the same in every frame and feature type."""
        rng = np.random.default_rng([self.seed, 6, video.noise_seed])
        keys = sorted({app.concept for app in video.appearances})
        deviations = rng.standard_normal((len(keys), LATENT_DIM)).astype(np.float32) / math.sqrt(LATENT_DIM)
        return {key: _unit(self.vectors[key] + INSTANCE_VARIATION * deviation)
                for key, deviation in zip(keys, deviations)}

    def _evidence(self, video: LatentVideo, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Summed latent vectors of the objects/attributes and of the actions visible at each time."""
        objects = np.zeros((len(times), LATENT_DIM), dtype=np.float32)
        actions = np.zeros((len(times), LATENT_DIM), dtype=np.float32)
        looks = self.instances(video)
        for app in video.appearances:
            inside = np.clip(np.minimum(times - app.start, app.end - times) / OBJECT_RAMP_S + 0.5, 0.0, 1.0)
            if not inside.any():
                continue
            weight = app.strength * self.salience[app.concept]
            if app.peak is not None:
                bump = np.exp(-0.5 * ((times - app.peak) / app.spread) ** 2)
                profile = inside * (0.3 + 0.7 * bump)
                actions += np.outer(weight * profile, looks[app.concept]).astype(np.float32)
            else:
                objects += np.outer(weight * inside, looks[app.concept]).astype(np.float32)
        return objects, actions

    def _scene_and_drift(self, video: LatentVideo, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The video's constant scene vector (its domain's plus its own) and a smooth frame noise:
        Gaussian knots every second, linearly interpolated, shared by every feature type."""
        rng = np.random.default_rng([self.seed, 3, video.noise_seed])
        scene = _unit(0.6 * self.scenes[video.domain] + 0.8 * _unit(rng.standard_normal(LATENT_DIM)))
        knots = rng.standard_normal((int(math.ceil(video.duration)) + 2, LATENT_DIM)).astype(np.float32)
        knots /= math.sqrt(LATENT_DIM)
        low = np.floor(times).astype(np.int64)
        frac = (times - low)[:, None].astype(np.float32)
        drift = (1 - frac) * knots[low] + frac * knots[low + 1]
        return np.broadcast_to(scene.astype(np.float32), drift.shape), drift


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


# --- tasks: recipes and other instructional procedures ----------------------------------------

# action classes: a step's action is drawn from its class once per task (Zipf within the class)
ACTION_CLASSES: dict[str, tuple[str, ...]] = {
    "CUT": ("chop", "slice", "cut", "dice", "mince"),
    "ADD": ("add", "put"),
    "POUR": ("pour", "add"),
    "SPRINKLE": ("sprinkle", "add"),
    "FRY": ("fry", "cook", "roast"),
    "BOIL": ("boil", "simmer", "cook"),
    "MIX": ("mix", "stir", "whisk", "toss"),
    "STIR": ("stir", "mix"),
    "SERVE": ("serve", "transfer", "put"),
    "SPREAD": ("spread", "layer"),
    "COAT": ("coat", "marinate"),
    "CLEAN": ("clean", "wipe", "scrub"),
    "FASTEN": ("tighten", "attach"),
}


def _solids(*groups: str) -> tuple[str, ...]:
    return tuple(c.key for c in vocab.concepts_of("cooking", vocab.OBJECT, "solid") if c.group in groups)


# variables of task skeletons (a prefix plus a digit, e.g. VEG0): candidates, most frequent first
VARIABLE_POOLS: dict[str, tuple[str, ...]] = {
    "VEG": _solids("veg"),
    "MEAT": _solids("meat"),
    "FRUIT": _solids("fruit", "nut"),
    "VM": _solids("veg", "meat"),
    "L": tuple(c.key for c in vocab.concepts_of("cooking", vocab.OBJECT, "liquid") if c.key not in ("oil", "water")),
    "P": tuple(c.key for c in vocab.concepts_of("cooking", vocab.OBJECT, "powder")),
    "SH": tuple(c.key for c in vocab.concepts_of("cooking", vocab.OBJECT, "shape")),
    "V": ("pan", "pot", "wok"),
    "B": ("bowl", "plate", "baking_dish", "jar"),
    "T": ("baking_tray", "baking_dish", "pan"),
}
TITLE_POOLS = ("VEG", "MEAT", "FRUIT", "VM")  # the first such variable names the recipe
# state attribute an earlier action leaves on its object ("chop the onion" ... "the chopped onion")
RESULT_STATES = {"chop": "chopped", "slice": "sliced", "dice": "diced", "mince": "minced", "cut": "chopped",
                 "grate": "grated", "boil": "boiled", "fry": "fried", "cook": "cooked", "melt": "melted"}

# cooking skeletons: "ACTION objects @place +done &SECOND" (upper case = class or variable)
DISHES: dict[str, tuple[str, ...]] = {
    "soup": ("CUT VM0 @SH", "CUT VEG1", "heat oil @V", "FRY VM0 @V +done", "ADD VEG1 @V +done &STIR",
             "POUR L0 @V", "BOIL soup @V", "blend soup @blender", "SPRINKLE P0 P1 @V", "SERVE soup @B"),
    "curry": ("CUT MEAT0 @SH", "CUT VEG1", "mince garlic ginger", "heat oil @V", "FRY VEG1 @V +done",
              "ADD P0 P1 @V &STIR", "ADD MEAT0 @V +done", "POUR L0 @V", "simmer curry @V",
              "garnish curry @cilantro", "SERVE curry @B"),
    "salad": ("wash VEG0 VEG1", "CUT VEG0 @SH", "CUT VEG1", "CUT FRUIT2", "ADD VEG0 VEG1 @bowl +done",
              "ADD FRUIT2 @bowl", "POUR L0 @bowl", "SPRINKLE P0", "toss salad @bowl", "SERVE salad @B"),
    "pasta": ("boil water @pot", "ADD pasta @pot", "drain pasta", "CUT VM0", "heat oil @pan",
              "FRY VM0 garlic @pan", "POUR tomato_sauce @pan", "ADD pasta @pan &MIX", "SPRINKLE cheese @pasta",
              "SERVE pasta @B"),
    "fried_rice": ("CUT MEAT0 @SH", "CUT VEG1 @SH", "heat oil @wok", "FRY MEAT0 @wok +done", "ADD VEG1 @wok &STIR",
                   "POUR soy_sauce @wok", "ADD rice @wok", "toss fried_rice @wok", "SERVE fried_rice @plate"),
    "cake": ("MIX flour sugar @bowl", "whisk egg @bowl", "ADD butter milk @bowl", "MIX mixture @bowl",
             "ADD FRUIT0 @bowl", "POUR mixture @T", "bake cake @oven", "SPREAD cream @cake", "SERVE cake @plate"),
    "pancake": ("MIX flour P0 @bowl", "whisk egg L0 @bowl", "melt butter @pan", "POUR mixture @pan",
                "flip pancake @spatula", "ADD FRUIT0 @pancake", "drizzle maple_syrup @pancake",
                "SERVE pancake @plate"),
    "omelette": ("whisk egg @bowl", "CUT VM0", "CUT VEG1", "ADD VM0 VEG1 @bowl +done", "SPRINKLE salt pepper @bowl",
                 "melt butter @pan", "POUR mixture @pan", "cook omelette @pan", "fold omelette",
                 "SERVE omelette @plate"),
    "sandwich": ("slice bread", "SPREAD L0 @bread", "CUT MEAT0 @SH", "put MEAT0 @bread +done", "ADD VEG1 @bread",
                 "ADD cheese @bread", "grill sandwich @pan", "cut sandwich @half", "SERVE sandwich @plate"),
    "burger": ("MIX MEAT0 P0 @bowl", "roll MEAT0 @ball", "grill burger @grill_rack", "slice VEG1", "put burger @bread",
               "ADD VEG1 cheese @burger +done", "SPREAD ketchup @bread", "SERVE burger @plate"),
    "pizza": ("knead dough", "roll dough @rolling_pin", "SPREAD tomato_sauce @dough", "ADD VM0 VEG1 @dough",
              "SPRINKLE cheese @pizza", "bake pizza @oven", "cut pizza @slices", "SERVE pizza @plate"),
    "taco": ("CUT VEG1", "FRY MEAT0 @pan &STIR", "SPRINKLE P0 P1 @pan", "heat tortilla @pan", "put MEAT0 @tortilla",
             "ADD VEG1 VEG2 @tortilla +done", "ADD cheese @taco", "SERVE taco @plate"),
    "stew": ("CUT MEAT0 @cube", "COAT MEAT0 @flour", "FRY MEAT0 @pot", "ADD VEG1 VEG2 @pot", "POUR L0 @pot",
             "simmer stew @pot", "ADD P0 @pot", "SERVE stew @bowl"),
    "smoothie": ("peel banana", "CUT FRUIT0 @SH", "ADD FRUIT0 banana @blender", "POUR milk @blender",
                 "ADD honey @blender", "blend smoothie @blender", "POUR smoothie @glass"),
    "kebab": ("CUT MEAT0 @cube", "COAT MEAT0 @L0", "CUT VEG1 @SH", "grill kebab @grill_rack", "SERVE kebab @plate"),
    "dumpling": ("MIX flour water @bowl", "knead dough", "mince MEAT0", "MIX MEAT0 VEG1 P0 @bowl",
                 "roll dough @rolling_pin", "put mixture @dough", "fold dumpling", "steam dumpling @pot",
                 "SERVE dumpling @plate"),
}
# other instructional tasks: (title with {X}, candidates for X, HowTo100M categories, skeleton)
PROCEDURES: tuple[tuple[str, tuple[str, ...], tuple[str, str], tuple[str, ...]], ...] = (
    ("Change a {X}", ("tire", "wheel"), ("Cars & Other Vehicles", "Car Maintenance"),
     ("loosen nut @wrench", "lift car @jack", "remove nut", "remove X @car", "install X @car +new",
      "tighten nut @wrench", "lower car @jack")),
    ("Add Oil to Your {X}", ("car", "motorcycle"), ("Cars & Other Vehicles", "Car Maintenance"),
     ("open hood", "remove cap @engine", "pour motor_oil @engine", "check motor_oil", "close hood")),
    ("Build a {X}", ("shelf", "fence", "box", "table"), ("Home and Garden", "Home Improvement"),
     ("measure board @tape", "mark board @pencil", "drill hole @power_drill", "insert screw @hole",
      "attach bracket @board", "FASTEN screw @screwdriver", "put X @wall")),
    ("Paint a {X}", ("wall", "door", "chair", "fence", "table"), ("Home and Garden", "Home Improvement"),
     ("CLEAN X @cloth", "sand X @sandpaper", "apply tape @X", "stir wall_paint", "paint X @brush",
      "paint X @roller")),
    ("Plant a {X}", ("tree", "flower", "plant"), ("Home and Garden", "Gardening"),
     ("dig hole @shovel", "planting X @hole", "fill hole @soil", "pour water @X", "spray X @hose")),
    ("Fix a Bike {X}", ("tire", "chain", "tube"), ("Sports and Fitness", "Bicycles"),
     ("remove wheel @bike", "remove tube @tire", "inflate tube @pump", "check tube", "insert tube @tire",
      "install wheel @bike", "FASTEN X @wrench")),
    ("Clean a {X}", ("sink", "window", "mirror", "floor", "car"), ("Home and Garden", "Housekeeping"),
     ("spray water @X", "scrub X @sponge", "wipe X @cloth", "CLEAN X @cloth")),
    ("Replace a {X}", ("light_bulb", "battery", "filter", "faucet"), ("Home and Garden", "Home Improvement"),
     ("open cap", "unscrew X", "remove X", "install X +new", "check X")),
    ("Make a Paper {X}", ("card", "box", "flag", "kite"), ("Hobbies and Crafts", "Crafts"),
     ("fold paper", "cut paper @scissors", "apply glue @paper", "attach ribbon @X", "mark X @pencil")),
    ("Hang a {X}", ("mirror", "shelf"), ("Home and Garden", "Home Improvement"),
     ("measure wall @tape", "mark wall @pencil", "drill hole @power_drill", "insert screw @hole", "hang X @wall")),
)
COOKING_CATEGORIES = ("Food and Entertaining", "Recipes")


@dataclass(frozen=True)
class Task:
    """A procedure: ordered steps over concrete concepts; ``variables`` are what videos may swap."""

    number: int  # unique in the world
    title: str
    domain: str  # "cooking" or "diy"
    categories: tuple[str, str]  # HowTo100M category_1, category_2
    steps: tuple[Event, ...]
    variables: tuple[tuple[str, str], ...]  # (variable, bound concept)


def _draw(rng: np.random.Generator, pool: tuple[str, ...], exponent: float, exclude: set[str] = frozenset()) -> str:
    options = [key for key in pool if key not in exclude]
    return options[int(rng.choice(len(options), p=vocab.zipf_weights(len(options), exponent)))]


def _instantiate(skeleton: tuple[str, ...], bindings: dict[str, str],
                 rng: np.random.Generator) -> tuple[Event, ...]:
    """Concrete events of a skeleton under variable bindings, action classes drawn (Zipf) per step;
    "+done" becomes the state an earlier step left on the object ("chop" -> "chopped")."""
    events = []
    last_state: dict[str, str] = {}
    for spec in skeleton:
        head, *rest = spec.split()
        action = _draw(rng, ACTION_CLASSES[head], 1.0) if head in ACTION_CLASSES else head
        objects, place, attribute, second = [], None, None, None
        for token in rest:
            if token.startswith("@"):
                place = bindings.get(token[1:], token[1:])
            elif token == "+done":
                attribute = "done"
            elif token.startswith("+"):
                attribute = token[1:]
            elif token.startswith("&"):
                second = _draw(rng, ACTION_CLASSES[token[1:]], 1.0)
            else:
                objects.append(bindings.get(token, token))
        if attribute == "done":
            attribute = last_state.get(objects[0]) if objects else None
        for key in (*objects, place, attribute, second, action):
            if key is not None and key not in VOCABULARY:
                raise ValueError(f"skeleton step '{spec}' names unknown concept '{key}'")
        if objects and action in RESULT_STATES:
            for key in objects:
                last_state[key] = RESULT_STATES[action]
        events.append(Event(action=action, objects=tuple(objects), place=place, attribute=attribute,
                            second_action=second))
    return tuple(events)


def task_book(seed: int, cooking_tasks: int) -> list[Task]:
    """The world's procedures: ``cooking_tasks`` recipes (dish skeletons with Zipf-drawn ingredients,
    unique titles) followed by every other instructional procedure of ``PROCEDURES``."""
    rng = np.random.default_rng([seed, 4])
    dish_names = list(DISHES)
    tasks: list[Task] = []
    titles: set[str] = set()
    while len(tasks) < cooking_tasks:
        dish = dish_names[int(rng.choice(len(dish_names), p=vocab.zipf_weights(len(dish_names), 0.4)))]
        tokens = " ".join(DISHES[dish]).replace("@", " ").split()
        literals = {token for token in tokens if token in VOCABULARY}
        bindings: dict[str, str] = {}
        for token in tokens:
            prefix = token.rstrip("0123456789")
            if prefix in VARIABLE_POOLS and token not in bindings:
                bindings[token] = _draw(rng, VARIABLE_POOLS[prefix], 0.9, literals | set(bindings.values()))
        main = next(bound for token, bound in bindings.items() if token.rstrip("0123456789") in TITLE_POOLS)
        title = f"Make {_title_words(main)} {_title_words(dish)}"
        if title in titles:
            continue
        titles.add(title)
        steps = _instantiate(DISHES[dish], bindings, rng)
        tasks.append(Task(len(tasks), title, "cooking", COOKING_CATEGORIES, steps, tuple(sorted(bindings.items()))))
    for title, candidates, categories, skeleton in PROCEDURES:
        for item in candidates:
            bindings = {"X": item}
            steps = _instantiate(skeleton, bindings, rng)
            tasks.append(Task(len(tasks), title.format(X=_title_words(item)), "diy", categories, steps,
                              tuple(bindings.items())))
    return tasks


def _title_words(key: str) -> str:
    """"green_onion" -> "Green Onion"."""
    return " ".join(part.capitalize() for part in VOCABULARY[key].forms[0].singular.split())


# --- performing a task: a video's timeline ----------------------------------------------------


@dataclass(frozen=True)
class Performance:
    """One video of a task: the events it shows with their spans, and its latent video."""

    video: LatentVideo
    events: tuple[Event, ...]
    spans: tuple[tuple[float, float], ...]
    step_indices: tuple[int, ...]  # index of each event's step in the task


def vary_task(task: Task, rng: np.random.Generator, swap_probability: float) -> tuple[Event, ...]:
    """A video's version of the task's steps: each variable is re-bound with ``swap_probability``
    (consistently in every step), and one step's action may become a sibling of its class."""
    swaps: dict[str, str] = {}
    used = {key for event in task.steps for key in event.concepts()}
    for variable, bound in task.variables:
        prefix = variable.rstrip("0123456789")
        if prefix in VARIABLE_POOLS and rng.random() < swap_probability:
            swaps[bound] = _draw(rng, VARIABLE_POOLS[prefix], 0.9, used)
            used.add(swaps[bound])
    steps = [replace(e, objects=tuple(swaps.get(k, k) for k in e.objects), place=swaps.get(e.place, e.place))
             for e in task.steps]
    if rng.random() < swap_probability:
        index = int(rng.integers(len(steps)))
        siblings = next((c for c in ACTION_CLASSES.values() if steps[index].action in c), ())
        if len(siblings) > 1:
            steps[index] = replace(steps[index], action=_draw(rng, siblings, 0.5, {steps[index].action}))
    return tuple(steps)


def perform_steps(video_id: str, noise_seed: int, domain: str, steps: tuple[Event, ...],
                  rng: np.random.Generator, *, keep_probability: float, step_seconds: tuple[float, float],
                  gap_seconds: tuple[float, float], margin_seconds: tuple[float, float],
                  ambient: tuple[str, ...] = ()) -> Performance:
    """Lay the kept steps (in order, at least three) on a timeline with background gaps and margins;
    ``ambient`` concepts (a person's hands) and every object of every step (laid out for the task)
    stay visible the whole video at low strength."""
    kept = [i for i in range(len(steps)) if rng.random() < keep_probability]
    if len(kept) < min(3, len(steps)):
        kept = sorted(rng.choice(len(steps), size=min(3, len(steps)), replace=False).tolist())
    time = float(rng.uniform(*margin_seconds))
    appearances: list[Appearance] = []
    spans = []
    for position, index in enumerate(kept):
        length = float(rng.uniform(*step_seconds))
        start, end = time, time + length
        spans.append((round(start, 2), round(end, 2)))
        appearances += event_appearances(steps[index], start, end, rng)
        time = end + (float(rng.uniform(*gap_seconds)) if position < len(kept) - 1 else 0.0)
    duration = round(time + float(rng.uniform(*margin_seconds)), 2)
    appearances += [Appearance(key, 0.0, duration, strength=0.35) for key in ambient]
    laid_out = dict.fromkeys(key for event in steps for key in event.objects)
    appearances += [Appearance(key, 0.0, duration, strength=CLUTTER_STRENGTH) for key in laid_out]
    video = LatentVideo(video_id, duration, domain, noise_seed, appearances)
    return Performance(video, tuple(steps[i] for i in kept), tuple(spans), tuple(kept))


def event_appearances(event: Event, start: float, end: float, rng: np.random.Generator) -> list[Appearance]:
    """What an event shows during [start, end]: its objects, place and attribute throughout, its
    action (and follow-up action) peaking somewhere inside, its agent throughout."""
    length = end - start
    shown = [Appearance(key, start, end) for key in event.objects]
    if event.place is not None:
        shown.append(Appearance(event.place, start, end, strength=0.8))
    for key in (event.attribute, event.agent, event.agent_attribute):
        if key is not None:
            shown.append(Appearance(key, start, end, strength=0.7 if key == event.attribute else 1.0))
    peak = start + length * float(rng.uniform(0.25, 0.6))
    shown.append(Appearance(event.action, start, end, peak=peak, spread=length * float(rng.uniform(0.15, 0.35))))
    if event.second_action is not None:
        late = start + length * float(rng.uniform(0.7, 0.9))
        shown.append(Appearance(event.second_action, start + 0.5 * length, end, peak=late, spread=0.15 * length))
    return shown


# --- open-domain activities (MSR-VTT, ActivityNet) ---------------------------------------------


@dataclass(frozen=True)
class Activity:
    """A kind of open-domain video: who, doing what (with which objects), where, and side actions."""

    name: str
    category: int  # MSR-VTT category id
    agents: tuple[str, ...]
    actions: tuple[tuple[str, tuple[str, ...]], ...]  # (action, objects it may take; empty = intransitive)
    places: tuple[str, ...]
    side_actions: tuple[tuple[str, tuple[str, ...]], ...]


_PEOPLE = ("man", "woman", "girl", "boy", "child")
ACTIVITIES: tuple[Activity, ...] = (
    Activity("music", 0, ("man", "woman", "girl", "boy", "singer"),
             (("play", ("guitar", "piano", "drum", "violin")),), ("stage", "room", "studio"),
             (("sing", ()), ("talk", ()), ("hold", ("microphone",)))),
    Activity("singing", 0, ("singer", "woman", "man", "girl", "boy", "child"), (("sing", ()),),
             ("stage", "studio", "room"), (("dance", ()), ("hold", ("microphone",)), ("wave", ()))),
    Activity("talking", 1, ("man", "woman", "person", "girl", "boy"), (("talk", ()),),
             ("room", "street", "kitchen", "house"), (("laugh", ()), ("walk", ()), ("hold", ("phone", "cup")))),
    Activity("news", 4, ("reporter", "host", "man", "woman"), (("talk", ()),), ("studio", "street", "city"),
             (("hold", ("microphone",)), ("walk", ()), ("show", ("book", "phone")))),
    Activity("sports", 3, ("player", "athlete", "man", "boy", "girl"),
             (("play", ("soccer", "basketball", "tennis", "football", "volleyball", "baseball", "golf", "hockey")),),
             ("field", "court", "gym", "park"),
             (("kick", ("sports_ball",)), ("throw", ("sports_ball",)), ("run", ()), ("jump", ()))),
    Activity("riding", 9, _PEOPLE + ("athlete",), (("ride", ("bike", "motorcycle", "horse", "skateboard")),),
             ("street", "park", "track", "mountain", "city"), (("jump", ()), ("wave", ()), ("fix", ("bike",)))),
    Activity("driving", 9, ("man", "woman", "person"), (("drive", ("car", "truck", "bus", "boat")),),
             ("street", "city", "mountain", "garage"), (("talk", ()), ("fix", ("car",)), ("wave", ()))),
    Activity("dancing", 1, ("dancer", "woman", "girl", "man", "boy", "person"), (("dance", ()),),
             ("stage", "room", "street", "studio"), (("sing", ()), ("jump", ()), ("laugh", ()))),
    Activity("swimming", 3, ("man", "woman", "boy", "girl", "athlete", "dog"), (("swim", ()),),
             ("pool", "lake", "beach"), (("jump", ()), ("laugh", ()))),
    Activity("cooking", 17, ("chef", "woman", "man"),
             (("cook", ("food", "chicken", "pasta", "rice", "egg", "soup")), ("chop", ("onion", "tomato", "carrot")),
              ("mix", ("egg", "sauce", "flour"))),
             ("kitchen",), (("talk", ()), ("show", ("food", "plate")), ("hold", ("knife",)))),
    Activity("eating", 16, ("man", "woman", "boy", "girl", "baby", "dog", "cat"),
             (("eat", ("food", "pizza", "cake", "burger", "apple", "banana", "sandwich", "noodles")),),
             ("kitchen", "room", "house", "park"), (("laugh", ()), ("talk", ()), ("hold", ("cup", "bottle")))),
    Activity("animals", 13, ("dog", "cat", "horse", "bird", "monkey", "elephant", "cow", "lion", "panda", "rabbit",
                             "duck", "tiger"),
             (("play", ("sports_ball", "toy", "rope")), ("run", ()), ("eat", ("food",))),
             ("park", "house", "field", "forest", "snow", "lake"), (("walk", ()), ("jump", ()), ("swim", ()))),
    Activity("gaming", 2, ("man", "boy", "person"), (("play", ("video_game",)),), ("room", "house"),
             (("talk", ()), ("laugh", ()), ("hold", ("phone", "computer")))),
    Activity("beauty", 18, ("woman", "girl", "model"), (("apply", ("makeup",)), ("show", ("dress", "hat", "hair"))),
             ("room", "studio"), (("talk", ()), ("laugh", ()), ("hold", ("makeup", "hat")))),
    Activity("howto", 10, ("man", "woman", "person"), (("fix", ("car", "bike", "computer", "phone")),),
             ("garage", "room", "street"), (("show", ("computer", "phone", "screwdriver")), ("talk", ()),
                                             ("hold", ("screwdriver", "wrench")))),
    Activity("fashion", 18, ("model", "woman", "man"), (("walk", ()),), ("stage", "street", "city"),
             (("wave", ()), ("hold", ("hat",)), ("laugh", ()))),
    Activity("running", 3, ("athlete", "man", "woman", "boy"), (("run", ()),), ("track", "field", "street", "park"),
             (("jump", ()), ("walk", ()))),
    Activity("winter", 3, ("skier", "man", "woman", "boy"), (("ski", ()),), ("mountain", "snow"),
             (("jump", ()), ("wave", ()))),
    Activity("surfing", 3, ("surfer", "man", "woman"), (("surf", ()),), ("beach", "lake"),
             (("carry", ("surfboard",)), ("swim", ()), ("hold", ("surfboard",)))),
    Activity("kids", 14, ("child", "boy", "girl", "baby"), (("play", ("toy", "sports_ball", "kite")),),
             ("park", "room", "house", "beach"), (("laugh", ()), ("run", ()), ("throw", ("sports_ball", "toy")))),
    Activity("technology", 12, ("man", "woman", "student", "host"), (("show", ("computer", "phone", "camera")),),
             ("room", "classroom", "studio"), (("talk", ()), ("hold", ("phone", "book")))),
    Activity("climbing", 3, ("man", "woman", "athlete"), (("climb", ("mountain", "rope", "tree")),),
             ("forest", "mountain", "gym"), (("hold", ("rope",)), ("jump", ()))),
    Activity("fighting", 7, ("man", "boy", "athlete", "actor"), (("fight", ()),), ("gym", "room", "street"),
             (("kick", ()), ("run", ()), ("laugh", ()))),
    Activity("school", 5, ("student", "child", "woman", "man"), (("watch", ("computer", "book")),),
             ("classroom", "room"), (("talk", ()), ("hold", ("book",)), ("laugh", ()))),
)


def open_event(activity: Activity, rng: np.random.Generator, agent: str, agent_attribute: str | None, place: str,
               side: bool) -> Event:
    """One event of an open-domain video: the activity's main action (or a side action) with its object."""
    pool = activity.side_actions if side else activity.actions
    action, candidates = pool[int(rng.integers(len(pool)))]
    objects = (_draw(rng, candidates, 0.8),) if candidates else ()
    attribute = None
    if objects and rng.random() < 0.3:
        roles = vocab.ATTRIBUTES_FOR_ROLE.get(VOCABULARY[objects[0]].role, ())
        options = tuple(c.key for role in roles for c in vocab.concepts_of(kind=vocab.ATTRIBUTE, role=role))
        attribute = _draw(rng, options, 1.0) if options else None
    return Event(action=action, objects=objects, place=place, attribute=attribute, agent=agent,
                 agent_attribute=agent_attribute)


def perform_activity(video_id: str, noise_seed: int, activity: Activity, rng: np.random.Generator, *,
                     events: int, duration: float) -> Performance:
    """An open-domain video of ``events`` consecutive events of one agent in one place, filling
    ``duration`` seconds; the first is the activity's main action, later ones main or side."""
    agent = _draw(rng, activity.agents, 0.8)
    roles = vocab.ATTRIBUTES_FOR_ROLE.get(VOCABULARY[agent].role, ())
    attributes = tuple(c.key for role in roles for c in vocab.concepts_of(kind=vocab.ATTRIBUTE, role=role))
    ageless = agent in ("baby", "child")  # no "old baby"
    agent_attribute = _draw(rng, attributes, 1.0) if attributes and not ageless and rng.random() < 0.4 else None
    place = _draw(rng, activity.places, 0.8)
    cuts = np.sort(rng.uniform(0.15, 0.85, size=events - 1)) * duration
    bounds = [0.0, *cuts.tolist(), duration]
    chosen, spans, appearances = [], [], []
    for index in range(events):
        start, end = bounds[index], bounds[index + 1]
        event = open_event(activity, rng, agent, agent_attribute, place, side=index > 0 and rng.random() < 0.5)
        chosen.append(event)
        spans.append((round(start, 2), round(end, 2)))
        appearances += event_appearances(replace(event, agent=None, agent_attribute=None, place=None),
                                         start, end, rng)
    # unlike kitchens, open-domain places differ a lot and fill the frame
    appearances += [Appearance(agent, 0.0, duration), Appearance(place, 0.0, duration, strength=OPEN_PLACE_STRENGTH)]
    background = [c.key for c in vocab.concepts_of("open", vocab.OBJECT) if c.role in ("thing", "person", "animal")]
    for _ in range(int(rng.integers(0, 3))):  # passers-by and things in the background
        appearances.append(Appearance(_draw(rng, tuple(background), 0.7), 0.0, duration, strength=CLUTTER_STRENGTH))
    if agent_attribute is not None:
        appearances.append(Appearance(agent_attribute, 0.0, duration, strength=0.7))
    video = LatentVideo(video_id, round(duration, 2), "open", noise_seed, appearances)
    return Performance(video, tuple(chosen), tuple(spans), tuple(range(events)))
