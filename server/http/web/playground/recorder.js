// Microphone recording with MediaRecorder: WebM/Opus where the browser has it (the server
// accepts it as it is), with a tick every 100 ms for live timers and an optional hard maximum.

function pickType() {
  for (const type of ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus"]) {
    if (window.MediaRecorder && MediaRecorder.isTypeSupported(type)) return type;
  }
  return "";
}

export class Recorder {
  constructor({ onTick = () => {}, maxSeconds = Infinity } = {}) {
    this.onTick = onTick;
    this.maxSeconds = maxSeconds;
    this.recorder = null;
  }

  get recording() {
    return this.recorder !== null && this.recorder.state === "recording";
  }

  async start() {
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      throw new Error("This browser cannot record audio here (recording needs HTTPS or localhost).");
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      throw new Error(`The microphone is not available: ${err.message}`);
    }
    const type = pickType();
    this.recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    this.chunks = [];
    this.recorder.addEventListener("dataavailable", (event) => event.data.size && this.chunks.push(event.data));
    this.done = new Promise((resolve) => {
      this.recorder.addEventListener("stop", () => {
        stream.getTracks().forEach((track) => track.stop());
        clearInterval(this.timer);
        const mime = this.recorder.mimeType || "audio/webm";
        const extension = mime.includes("ogg") ? "ogg" : "webm";
        resolve(new File(this.chunks, `recording.${extension}`, { type: mime }));
      });
    });
    const started = performance.now();
    this.timer = setInterval(() => {
      const seconds = (performance.now() - started) / 1000;
      this.onTick(seconds);
      if (seconds >= this.maxSeconds) this.recorder.stop();
    }, 100);
    this.recorder.start(250);
  }

  // Resolves with the recording as a File once the recorder has flushed.
  stop() {
    if (this.recording) this.recorder.stop();
    return this.done;
  }
}
