"""What each reply costs as SMS: encoding (GSM-7 or UCS-2) and segments, as channels/sms.py
renders it (answers with their related questions as numbered options).

    .venv/bin/python -m evaluation.sms_segments          # markdown table and summary
"""

from __future__ import annotations

import statistics
from typing import Dict, List, Tuple

from actions.answers import answer_with_related
from actions.guidance import decline_reply
from actions.knowledge import load_knowledge
from actions.replies import after_care_reply, emergency_replies, not_covered_reply, red_flag_kinds
from actions.reply import Reply
from channels.sms import segment_table


def replies_by_name() -> Dict[str, Reply]:
    """Every reply a patient can get, by a readable name: answers, topics, the rest."""
    knowledge = load_knowledge()
    replies = {f"answer {a.id}": answer_with_related([a]) for a in knowledge.answers.values()}
    replies.update({f"not covered {t.id}": not_covered_reply(t) for t in knowledge.topics.values()})
    replies.update({f"emergency {k}": emergency_replies([k])[0] for k in red_flag_kinds()})
    replies.update({"decline": decline_reply(), "after care": after_care_reply()})
    return replies


def summary(rows: List[Tuple[str, Dict[str, int]]]) -> Dict[str, object]:
    """`{replies, gsm7, median_segments, max_segments}` over the answers (the typical reply)."""
    answers = [row["segments"] for name, row in rows if name.startswith("answer ")]
    return {
        "replies": len(rows),
        "gsm7": sum(row["encoding"] == "GSM-7" for _, row in rows),
        "answer_median_segments": statistics.median(answers),
        "answer_max_segments": max(answers),
    }


def sentence(figures: Dict[str, object]) -> str:
    """The summary as the README says it (tests/test_readme.py compares them)."""
    return (
        f"{figures['gsm7']} of its {figures['replies']} replies are GSM-7; an answer takes "
        f"{figures['answer_median_segments']} segments (median), {figures['answer_max_segments']} at most"
    )


def measure() -> List[Tuple[str, Dict[str, int]]]:
    replies = replies_by_name()
    return list(zip(replies, segment_table(list(replies.values()))))


def main() -> None:
    rows = measure()
    print("| reply | encoding | segments | characters |\n|---|---|---|---|")
    for name, row in rows:
        print(f"| {name} | {row['encoding']} | {row['segments']} | {row['characters']} |")
    print(f"\n{sentence(summary(rows))}")


if __name__ == "__main__":
    main()
