/**
 * Reassembles ranks' lines from `mpirun --tag-output`. mpirun tags each fragment it forwards,
 * not each line: a long line can arrive as `[1,0]<stdout>:first part` followed later by
 * `[1,0]<stdout>:rest\n`, possibly with other ranks' fragments in between. This parser splits the
 * byte stream at the tags, appends each fragment to its rank's pending text, and emits whole lines
 * per rank. Text before any tag (mpirun's own messages) is passed through line by line.
 */

const TAG = /\[(\d+),(\d+)\]<(stdout|stderr)>:/g;
/** The longest possible tag prefix held back when a chunk ends in the middle of one. */
const MAX_TAG = 40;

export type Stream = 'stdout' | 'stderr';
export type LineSink = (rank: number | null, stream: Stream, line: string) => void;

export class MpiTagParser {
  #buf = '';
  /** Whose fragment the text at the start of #buf continues (null: mpirun's own output). */
  #current: { rank: number; stream: Stream } | null = null;
  readonly #pending = new Map<string, string>();

  constructor(
    /** The stream this parser reads (mpirun's stdout or stderr): where untagged text goes. */
    readonly own: Stream,
    readonly emit: LineSink,
  ) {}

  push(chunk: string): void {
    this.#buf += chunk;
    let last = 0;
    TAG.lastIndex = 0;
    for (let m = TAG.exec(this.#buf); m; m = TAG.exec(this.#buf)) {
      this.#take(this.#buf.slice(last, m.index));
      this.#current = { rank: Number(m[2]), stream: m[3] as Stream };
      last = TAG.lastIndex;
    }
    // Hold back a tail that may be the start of a tag cut by the chunk boundary.
    let keep = this.#buf.length;
    const open = this.#buf.lastIndexOf('[');
    if (open >= last && this.#buf.length - open < MAX_TAG && !this.#buf.slice(open).includes('\n')) keep = open;
    this.#take(this.#buf.slice(last, keep));
    this.#buf = this.#buf.slice(keep);
  }

  /** Flushes what is left (at the end of the stream). */
  end(): void {
    this.#take(this.#buf);
    this.#buf = '';
    for (const [key, text] of this.#pending) if (text) this.#emitKey(key, text);
    this.#pending.clear();
  }

  /**
   * mpirun tags every line it forwards, so a tag's text runs to the first newline at most; what
   * follows a newline without a new tag is mpirun's own output.
   */
  #take(text: string): void {
    while (text) {
      const key = this.#current ? `${this.#current.rank}:${this.#current.stream}` : `-:${this.own}`;
      const nl = this.#current ? text.indexOf('\n') : text.lastIndexOf('\n');
      if (nl < 0) {
        this.#pending.set(key, (this.#pending.get(key) ?? '') + text);
        return;
      }
      const lines = ((this.#pending.get(key) ?? '') + text.slice(0, nl)).split('\n');
      this.#pending.set(key, '');
      for (const line of lines) this.#emitKey(key, line);
      this.#current = null;
      text = text.slice(nl + 1);
    }
  }

  #emitKey(key: string, line: string): void {
    const [r, stream] = key.split(':');
    this.emit(r === '-' ? null : Number(r), stream as Stream, line);
  }
}
