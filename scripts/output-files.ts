import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** A built file, by its path inside the output folder (forward slashes), with its size. */
export interface OutputFile {
  file: string;
  bytes: number;
}

/** Every file under `outDir`, sorted by path, and their total size: what a build reports of its output. */
export async function listOutputFiles(outDir: string): Promise<{ files: OutputFile[]; totalBytes: number }> {
  const files: OutputFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else files.push({ file: path.relative(outDir, full).split(path.sep).join('/'), bytes: (await stat(full)).size });
    }
  };
  await walk(outDir);
  files.sort((a, b) => a.file.localeCompare(b.file));
  return { files, totalBytes: files.reduce((sum, file) => sum + file.bytes, 0) };
}
