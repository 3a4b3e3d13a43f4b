"""Deterministic media for the emulator: tiny PNGs, speech audio, subtitles, video files."""

from __future__ import annotations

import hashlib
import struct
import zlib

__all__ = [
    "AUDIO_TYPES",
    "VIDEO_VARIANTS",
    "audio_duration",
    "speech_audio",
    "subtitles",
    "tiny_png",
    "video_file",
]

# Content types of /audio/speech replies by response_format.
AUDIO_TYPES = {
    "mp3": b"audio/mpeg",
    "opus": b"audio/opus",
    "aac": b"audio/aac",
    "flac": b"audio/flac",
    "wav": b"audio/wav",
    "pcm": b"audio/pcm",
}
# Content types of /videos/{id}/content by variant.
VIDEO_VARIANTS = {"video": b"video/mp4", "thumbnail": b"image/webp", "spritesheet": b"image/jpeg"}
SPEECH_BYTES = 64 * 1024
VIDEO_BYTES = 96 * 1024


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def tiny_png(seed: str) -> bytes:
    """A valid 8x8 single-colour PNG whose colour is derived from ``seed``."""
    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes((red, green, blue)) * 8  # filter byte, then 8 RGB pixels
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)  # 8x8, 8-bit truecolour
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(row * 8, 9))
        + _png_chunk(b"IEND", b"")
    )


def _fill(head: bytes, seed: bytes, size: int) -> bytes:
    body = seed or b"\x00"
    repeats = -(-(size - len(head)) // len(body))
    return (head + body * repeats)[:size]


def speech_audio(text: str, response_format: str) -> bytes:
    """64 KiB of "audio": the format's magic bytes, then ``text`` repeated."""
    seed = text.encode() + b"\n"
    if response_format == "wav":
        data = _fill(b"", seed, SPEECH_BYTES - 44)
        fmt = struct.pack("<HHIIHH", 1, 1, 24000, 48000, 2, 16)  # PCM mono 24 kHz 16-bit
        head = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16)
        return head + fmt + b"data" + struct.pack("<I", len(data)) + data
    magic = {
        "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
        "opus": b"OggS\x00\x02",
        "aac": b"\xff\xf1\x50\x80",
        "flac": b"fLaC",
        "pcm": b"",
    }[response_format]
    return _fill(magic, seed, SPEECH_BYTES)


def audio_duration(size: int) -> float:
    """The emulator's duration of an uploaded audio file: 32 000 bytes a second, at least 1."""
    return round(max(1.0, size / 32_000), 2)


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def subtitles(text: str, duration: float, response_format: str) -> str:
    """A one-cue SubRip (``srt``) or WebVTT (``vtt``) document holding ``text``."""
    if response_format == "srt":
        return f"1\n{_timestamp(0, ',')} --> {_timestamp(duration, ',')}\n{text}\n\n"
    return f"WEBVTT\n\n{_timestamp(0, '.')} --> {_timestamp(duration, '.')}\n{text}\n\n"


def video_file(prompt: str, variant: str) -> bytes:
    """Bytes of a video (an ISO-BMFF ``ftyp`` + ``mdat``), or its thumbnail or spritesheet."""
    seed = prompt.encode() + b"\n"
    if variant == "thumbnail":
        data = _fill(b"WEBPVP8 ", seed, 4096)
        return b"RIFF" + struct.pack("<I", len(data)) + data
    if variant == "spritesheet":
        return _fill(b"\xff\xd8\xff\xe0", seed, 8190) + b"\xff\xd9"
    ftyp = struct.pack(">I", 24) + b"ftypmp42" + struct.pack(">I", 0) + b"mp42isom"
    payload = _fill(b"", seed, VIDEO_BYTES - len(ftyp) - 8)
    return ftyp + struct.pack(">I", len(payload) + 8) + b"mdat" + payload
