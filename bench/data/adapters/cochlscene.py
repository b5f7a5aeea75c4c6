"""CochlScene (Jeong & Park, APSIPA 2022): 13 acoustic scenes recorded by 831 participants, 10 s clips.

Official layout: ``Train/<scene>/*.wav``, ``Val/<scene>/*.wav``, ``Test/<scene>/*.wav``; the split is the
release's folders. A file name found in two split folders is the same clip twice and is refused; so is a
scene folder that one split has and another lacks."""

from __future__ import annotations

from bench.data.clips import Clip, ClipIndex
from bench.data.registry import DatasetAdapter, DatasetInfo, NoOptions, register_dataset
from bench.errors import DataError

_SPLITS = (("Train", "train"), ("Val", "validation"), ("Test", "test"))


@register_dataset
class CochlScene(DatasetAdapter):
    info = DatasetInfo(
        name="cochlscene",
        description="CochlScene: 13 acoustic scenes, 76,115 clips of 10 s, official Train/Val/Test folders",
        default_dir="CochlScene",
        licence="CC BY-SA 3.0",
    )
    Options = NoOptions

    def scan(self) -> ClipIndex:
        root = self.require_root()
        scenes: dict[str, list[str]] = {}
        for folder, _ in _SPLITS:
            if not (root / folder).is_dir():
                raise DataError(
                    f"cochlscene: missing split folder {root / folder} (layout Train|Val|Test/<scene>/*.wav)"
                )
            scenes[folder] = sorted(p.name for p in (root / folder).iterdir() if p.is_dir())
        classes = scenes["Train"]
        for folder, names in scenes.items():
            if names != classes:
                odd = sorted(set(names) ^ set(classes))
                raise DataError(f"cochlscene: {root / folder} has other scene folders than Train ({', '.join(odd)})")
        clips, seen = [], {}
        for folder, split in _SPLITS:
            for label, scene in enumerate(classes):
                for path in sorted((root / folder / scene).iterdir()):
                    if path.suffix.lower() != ".wav":
                        self.ignore(f"not .wav ({path.suffix or 'no extension'})")
                        continue
                    key = f"{scene}/{path.stem}"
                    if key in seen:
                        raise DataError(f"cochlscene: {key} is in both {seen[key]} and {folder}")
                    seen[key] = folder
                    clips.append(Clip(key=key, label=label, group=key, split=split, source=path))
        return ClipIndex("cochlscene", classes, clips)
