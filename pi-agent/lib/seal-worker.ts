/** worker_threads entry: seals chunks off the capture thread. Messages: SealInput in, SealedChunk out. */
import { parentPort } from "node:worker_threads";
import { sealChunk, type SealInput } from "./seal.ts";

parentPort!.on("message", (msg: { id: number; input: SealInput }) => {
  try {
    const sealed = sealChunk(msg.input);
    parentPort!.postMessage({ id: msg.id, sealed }, [sealed.ciphertext.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: (err as Error).message });
  }
});
