"""Resource-carrying ids (pure)."""

from __future__ import annotations

from azure_asgi._ids import tag, tag_ids, untag, untag_fields

RESOURCES = {"eastus", "westus"}


def test_tag_and_untag_round_trip() -> None:
    assert tag("file-abc", "eastus") == "file-abc~eastus"
    assert untag("file-abc~eastus", RESOURCES) == ("file-abc", "eastus")
    assert untag("file-abc~nowhere", RESOURCES) == ("file-abc~nowhere", None)
    assert untag("file-abc", RESOURCES) == ("file-abc", None)
    assert untag("~eastus", RESOURCES) == ("~eastus", None)


def test_tag_ids_on_objects_lists_and_events() -> None:
    batch = {"object": "batch", "id": "batch_1", "input_file_id": "file-1", "output_file_id": None}
    assert tag_ids(batch, "eastus")
    assert batch == {
        "object": "batch",
        "id": "batch_1~eastus",
        "input_file_id": "file-1~eastus",
        "output_file_id": None,
    }
    listing = {
        "object": "list",
        "data": [{"object": "file", "id": "file-1"}, {"object": "file", "id": "file-2"}],
        "first_id": "file-1",
        "last_id": "file-2",
        "has_more": False,
    }
    assert tag_ids(listing, "westus")
    assert [f["id"] for f in listing["data"]] == ["file-1~westus", "file-2~westus"]
    assert (listing["first_id"], listing["last_id"]) == ("file-1~westus", "file-2~westus")
    event = {"type": "response.created", "response": {"object": "response", "id": "resp_1"}}
    assert tag_ids(event, "eastus")
    assert event["response"]["id"] == "resp_1~eastus"


def test_tag_ids_leaves_other_ids_alone() -> None:
    events = {
        "object": "list",
        "data": [{"object": "fine_tuning.job.event", "id": "ftevent-1"}],
        "first_id": "ftevent-1",
    }
    assert not tag_ids(events, "eastus")
    assert events["data"][0]["id"] == "ftevent-1"
    assert events["first_id"] == "ftevent-1"
    chat = {"object": "chat.completion", "id": "chatcmpl-1"}
    assert not tag_ids(chat, "eastus")


def test_untag_fields_in_a_request() -> None:
    body = {"previous_response_id": "resp_1~westus", "input": "x", "training_file": "file-9"}
    assert untag_fields(body, RESOURCES) == {"westus"}
    assert body == {"previous_response_id": "resp_1", "input": "x", "training_file": "file-9"}


def test_deleted_objects_keep_the_id_the_caller_used() -> None:
    deleted = {"object": "video.deleted", "id": "video_1", "deleted": True}
    assert tag_ids(deleted, "eastus")
    assert deleted["id"] == "video_1~eastus"
    not_stateful = {"object": "chat.completion.deleted", "id": "x"}
    assert not tag_ids(not_stateful, "eastus")
