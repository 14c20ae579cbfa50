"""Checklists: the questions a policy asks people, their answers, and the impact level answers imply."""

from __future__ import annotations

import math
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.checks.context import Text
from assay.checks.phrase import N_, Phrase

# What a question is about, so the crosswalk can line up the human duties of different packs.
Topic = Literal[
    "risk_management",
    "training_data",
    "vendor_documents",
    "technical_documentation",
    "instructions_for_use",
    "human_oversight",
    "oversight_contact",
    "human_final_decision",
    "recourse",
    "deactivation",
    "retention",
    "logging",
    "notice",
    "impact_assessment",
    "impact_level",
    "bias_analysis",
    "monitoring",
    "robustness",
    "privacy",
    "independent_assessment",
    "governance",
    "registration",
    "staff_training",
    "approval",
    "third_party",
]


class Question(BaseModel):
    """A checklist question a person must answer for a clause (the law asks for more than numbers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    topic: Topic
    text: Text
    # yes_no: "yes" satisfies the clause and "no" fails it; text: any non-empty answer satisfies it;
    # number: a score (≥ 0) that an impact-level scheme reads.
    kind: Literal["yes_no", "text", "number"] = "yes_no"
    # An exemption the text allows (e.g. KR Decree 23(4)2): "yes" means the clause does not apply,
    # so its other questions and evidence are not judged; "no" or no answer leaves it to them.
    exempts: bool = False

    @model_validator(mode="after")
    def _exemption_is_yes_no(self) -> Question:
        if self.exempts and self.kind != "yes_no":
            raise ValueError("an exempting question ('exempts: true') must be of kind yes_no")
        return self

    def fault(self, given: Answer) -> str | None:
        """Return what makes `given` no answer of this question's kind, or None when it is one."""
        if given.answer is None:
            return None
        if self.kind == "yes_no" and given.yes_no() is None:
            return f"expected yes or no, got {given.answer!r}"
        if self.kind == "number" and ((value := given.number()) is None or value < 0):
            return f"expected a number ≥ 0, got {given.answer!r}"
        return None


# The words a yes/no answer may be written in (YAML's own true/false arrive as booleans).
_YES_NO = {"yes": True, "true": True, "no": False, "false": False}


class Answer(BaseModel):
    """One answer in a checklist answers file, with who gave it and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str | None = None  # the question's text, as the template wrote it (not judged)
    answer: bool | int | float | str | None = None
    answered_by: str | None = None
    answered_at: date | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _signed(self) -> Answer:
        if self.answer is not None and not (self.answered_by and self.answered_at):
            raise ValueError("an answer needs 'answered_by' and 'answered_at'")
        return self

    def yes_no(self) -> bool | None:
        """Return the answer as yes (True) or no (False), or None when it is neither."""
        if isinstance(self.answer, bool):
            return self.answer
        return _YES_NO.get(str(self.answer).strip().lower())

    def number(self) -> float | None:
        """Return the answer as a number, or None when it is not one (yes/no is not a number)."""
        if isinstance(self.answer, bool) or not isinstance(self.answer, int | float):
            return None
        return float(self.answer)


class Answers(BaseModel):
    """A checklist answers file: the pack it answers and an answer per question id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str
    answers: dict[str, Answer] = Field(default_factory=dict)


class Level(BaseModel):
    """One impact level: the largest share of the maximum score that still falls in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9]+$")
    up_to: float = Field(gt=0, le=1)


class ImpactScheme(BaseModel):
    """How a pack turns scored answers into an impact level (Canada's AIA: levels I to IV).

    As the Treasury Board's AIA tool scores: `mitigation_deduction` comes off the score when the
    mitigation score reaches `mitigation_threshold` of `mitigation_reachable` of its maximum, the
    result is rounded as `rounding` says, and the level is the first whose `up_to` times the
    maximum is at least that score.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    score: str
    maximum: str
    mitigation: str | None = None
    mitigation_maximum: str | None = None
    mitigation_threshold: float = Field(default=0.8, gt=0, le=1)
    mitigation_deduction: float = Field(default=0.15, ge=0, lt=1)
    # The share of `mitigation_maximum` one assessment can score: the AIA's maximum counts both
    # branches of its design/implementation fork, of which an assessment answers one, hence 0.5.
    mitigation_reachable: float = Field(default=0.5, gt=0, le=1)
    # The AIA tool rounds the deducted score half up to a whole number (JavaScript's Math.round).
    rounding: Literal["half_up", "none"] = "half_up"
    levels: list[Level] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> ImpactScheme:
        bounds = [level.up_to for level in self.levels]
        if bounds != sorted(set(bounds)) or bounds[-1] != 1:
            raise ValueError("levels need strictly increasing 'up_to', the last one 1")
        if (self.mitigation is None) != (self.mitigation_maximum is None):
            raise ValueError("'mitigation' and 'mitigation_maximum' go together")
        return self

    def question_ids(self) -> list[str]:
        """Return the ids of the number questions the scheme reads."""
        ids = [self.score, self.maximum, self.mitigation, self.mitigation_maximum]
        return [i for i in ids if i is not None]

    def level_ids(self) -> list[str]:
        """Return the level ids, lowest first."""
        return [level.id for level in self.levels]

    def check_answers(self, answers: dict[str, Answer]) -> None:
        """Raise ValueError naming the answer when the given scores cannot be read together."""
        for qid in self.question_ids():
            given = answers.get(qid)
            if given is not None and given.answer is not None:
                value = given.number()
                if value is None or value < 0:
                    raise ValueError(f"answers.{qid}.answer: expected a number ≥ 0, got {given.answer!r}")
        for part, whole in ((self.score, self.maximum), (self.mitigation, self.mitigation_maximum)):
            if part is None or whole is None:
                continue
            low, high = (_number(answers, q) for q in (part, whole))
            if high == 0:
                raise ValueError(f"answers.{whole}.answer: the maximum must be above 0")
            if low is not None and high is not None and low > high:
                raise ValueError(f"answers.{part}.answer: {low:g} is above the maximum {whole} = {high:g}")

    def _rounded(self, value: float) -> float:
        """Return `value` rounded as the scheme says (half up, like JavaScript's Math.round)."""
        return float(math.floor(value + 0.5)) if self.rounding == "half_up" else value

    def assess(self, answers: dict[str, Answer]) -> LevelFinding:
        """Return the impact level the answers imply, or an unknown level naming what is missing."""
        missing = [q for q in (self.score, self.maximum) if _number(answers, q) is None]
        if missing:
            return LevelFinding.of(
                None,
                Phrase(
                    template=N_("impact level unknown: {missing} unanswered"),
                    args={"missing": ", ".join(missing)},
                ),
            )
        score, maximum = _number(answers, self.score), _number(answers, self.maximum)
        assert score is not None and maximum is not None
        args = {"score": f"{score:g}", "maximum": f"{maximum:g}"}
        how = Phrase(template=N_("impact score {score} of {maximum}"), args=args)
        current = score
        if self.mitigation is not None and self.mitigation_maximum is not None:
            mit, mit_max = _number(answers, self.mitigation), _number(answers, self.mitigation_maximum)
            if mit is None or mit_max is None:
                how = Phrase(
                    template=N_("impact score {score} of {maximum}; mitigation unanswered, so no deduction"),
                    args=args,
                )
            else:
                # The thresholds are written as the arithmetic that makes them, so the reason needs
                # no translation to say why 80% of a maximum of 40 is 16.
                cut = self.mitigation_threshold * (mit_max * self.mitigation_reachable)
                cut_said = (
                    f"{cut:g} = {self.mitigation_threshold:g} × {self.mitigation_reachable:g} × {mit_max:g}"
                )
                if mit >= cut:
                    deducted = (1 - self.mitigation_deduction) * score
                    current = self._rounded(deducted)
                    how = Phrase(
                        template=N_(
                            "impact score {score} of {maximum}; mitigation {mitigation} ≥ {threshold}, "
                            "so {deduction} off: {current}"
                        ),
                        args={
                            **args,
                            "mitigation": f"{mit:g}",
                            "threshold": cut_said,
                            "deduction": f"{self.mitigation_deduction:.0%}",
                            "current": f"{current:g}"
                            if current == deducted
                            else f"{current:g} = round({deducted:.4g})",
                        },
                    )
                else:
                    how = Phrase(
                        template=N_(
                            "impact score {score} of {maximum}; mitigation {mitigation} < {threshold}, "
                            "no deduction"
                        ),
                        args={**args, "mitigation": f"{mit:g}", "threshold": cut_said},
                    )
        share = current / maximum
        # Compared as the AIA tool compares (score ≤ maximum × bound), so ties fall as they do there.
        level = next(lv for lv in self.levels if current <= maximum * lv.up_to)
        return LevelFinding.of(
            level.id,
            Phrase(
                template=N_("impact level {level}: {how} ({share}) [{source}]"),
                args={"level": level.id, "how": how, "share": f"{share:.0%}", "source": self.source},
            ),
        )


class LevelFinding(BaseModel):
    """The impact level a checklist's answers imply (None when they do not say) and how."""

    model_config = ConfigDict(frozen=True)

    level: str | None
    reason: str
    phrase: Phrase | None = None

    @classmethod
    def of(cls, level: str | None, phrase: Phrase) -> LevelFinding:
        """Return the finding of `level`, said by `phrase`."""
        return cls(level=level, reason=str(phrase), phrase=phrase)


def _number(answers: dict[str, Answer], qid: str) -> float | None:
    given = answers.get(qid)
    return given.number() if given is not None else None
