import { open, type FileHandle } from 'node:fs/promises';

/**
 * Random access to bytes: a file read with positioned reads (Node has no mmap, and a multi-GB
 * checkpoint must never sit in one buffer), or an in-memory buffer (tests, fuzzing). Reading past
 * the end returns fewer bytes; callers decide what that means.
 */
export interface ByteSource {
  readonly size: number;
  readonly name: string;
  /** Reads up to `length` bytes at `position` into a fresh Uint8Array (shorter at end of data). */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = '<buffer>',
  ) {
    this.size = bytes.length;
  }
  async read(position: number, length: number): Promise<Uint8Array> {
    return this.bytes.slice(position, Math.min(this.size, position + length));
  }
  async close(): Promise<void> {}
}

export class FileSource implements ByteSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly name: string,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const fh = await open(path, 'r');
    try {
      return new FileSource(fh, (await fh.stat()).size, path);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const n = Math.max(0, Math.min(length, this.size - position));
    // A fresh, exactly sized buffer: its byteOffset is 0, so typed views over it are aligned.
    const out = new Uint8Array(n);
    let done = 0;
    // fs reads are capped (2 GiB) and may return short; loop until filled or the file ends.
    while (done < n) {
      const { bytesRead } = await this.fh.read(out, done, Math.min(n - done, 1 << 30), position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === n ? out : out.subarray(0, done);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
