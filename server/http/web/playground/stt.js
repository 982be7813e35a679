// Speech to text: pick, drop or record audio; submit with options; follow the task's progress;
// show speaker-coloured turns that seek the audio when clicked; download the transcript.

import { api, waitForTask } from "./api.js";
import { Recorder } from "./recorder.js";
import { $, clock, dropZone, el, guarded, progressReporter, saveBlob, showError, speakerIndex } from "./ui.js";

let audioFile = null;
let taskId = null;

function useAudio(file) {
  audioFile = file;
  const player = $("#stt-audio");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(file);
  player.hidden = false;
  $("#stt-file-name").textContent = `${file.name} · ${(file.size / 1024).toFixed(0)} KB`;
}

function options() {
  const form = new FormData();
  form.append("file", audioFile, audioFile.name || "audio");
  const language = $("#stt-language").value.trim();
  if (language) form.append("language", language);
  form.append("diarize", $("#stt-diarize").checked ? "true" : "false");
  const speakers = $("#stt-speakers").value;
  if (speakers && $("#stt-diarize").checked) form.append("num_speakers", speakers);
  if ($("#stt-words").checked) form.append("word_timestamps", "true");
  return form;
}

// Consecutive segments of one speaker read as one turn.
function turns(transcript) {
  const result = [];
  for (const segment of transcript.segments || []) {
    const last = result[result.length - 1];
    if (last && last.speaker === segment.speaker && segment.start - last.end < 1.5) {
      last.text += ` ${segment.text.trim()}`;
      last.end = segment.end;
    } else {
      result.push({ speaker: segment.speaker, start: segment.start, end: segment.end, text: segment.text.trim() });
    }
  }
  return result;
}

function render(transcript) {
  const list = $("#stt-transcript");
  list.replaceChildren();
  const speakers = transcript.speakers || [];
  const player = $("#stt-audio");
  for (const turn of turns(transcript)) {
    const speaker = turn.speaker ?? "speaker";
    const button = el(
      "button",
      {
        type: "button",
        class: `turn spk-${speakerIndex(speakers, turn.speaker)}`,
        "data-speaker": speaker,
        "data-start": turn.start,
        "aria-label": `${speaker} at ${clock(turn.start)}: ${turn.text}. Play from here.`,
        onclick: () => {
          player.currentTime = turn.start;
          player.play().catch(() => {});
        },
      },
      el("span", { class: "who" }, speaker.replace("SPEAKER_", "Speaker "), el("time", { text: clock(turn.start) })),
      el("span", { class: "words", text: turn.text }),
    );
    list.append(el("li", {}, button));
  }
  if (!list.children.length) list.append(el("li", { class: "muted", text: "No speech was found." }));
  $("#stt-hint").hidden = false;
  $("#stt-downloads").hidden = false;
}

// Highlight the turn being played.
function followPlayback() {
  const player = $("#stt-audio");
  player.addEventListener("timeupdate", () => {
    let current = null;
    for (const button of document.querySelectorAll("#stt-transcript .turn")) {
      if (Number(button.dataset.start) <= player.currentTime) current = button;
      button.classList.remove("playing");
    }
    if (current && !player.paused) current.classList.add("playing");
  });
}

async function transcribe(submit) {
  if (!audioFile) throw new Error("Choose, drop or record some audio first.");
  const bar = $("#stt-progress");
  const label = $("#stt-progress-text");
  const report = progressReporter(bar, label);
  $("#stt-transcript").replaceChildren();
  $("#stt-downloads").hidden = true;
  bar.value = 0;
  label.textContent = "uploading…";
  const task = await api("v1/stt", { method: "POST", form: options() });
  taskId = task.task_id;
  report(task);
  await waitForTask(`v1/stt/${taskId}`, report);
  label.textContent = "done";
  render(await api(`v1/stt/${taskId}/result`));
  submit.focus();
}

const EXTENSIONS = { text: "txt", srt: "srt", vtt: "vtt", json: "json" };

async function download(format) {
  const blob = await api(`v1/stt/${taskId}/result`, { query: { format }, as: "blob" });
  saveBlob(blob, `transcript-${taskId}.${EXTENSIONS[format]}`);
}

export function setupStt() {
  dropZone($("#stt-drop"), $("#stt-file"), useAudio);
  const recordButton = $("#stt-record");
  const recorder = new Recorder({ onTick: (s) => ($("#stt-record-time").textContent = `recording ${clock(s)}`) });
  recordButton.addEventListener("click", async () => {
    if (recorder.recording) {
      recorder.stop();
      return;
    }
    try {
      await recorder.start();
    } catch (err) {
      showError(err);
      return;
    }
    recordButton.setAttribute("aria-pressed", "true");
    recordButton.textContent = "■ Stop recording";
    const file = await recorder.done;
    recordButton.setAttribute("aria-pressed", "false");
    recordButton.textContent = "● Record from the microphone";
    $("#stt-record-time").textContent = "";
    $("#stt-file").value = ""; // the recording replaces any picked file
    useAudio(file);
  });
  $("#stt-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const submit = $("#stt-submit");
    guarded(submit, () => transcribe(submit));
  });
  for (const button of document.querySelectorAll("#stt-downloads button")) {
    button.addEventListener("click", () => guarded(button, () => download(button.dataset.format)));
  }
  followPlayback();
}
