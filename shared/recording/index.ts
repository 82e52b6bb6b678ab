export * from "./format.ts";
export * from "./encoder.ts";
export * from "./decoder.ts";
export * from "./events.ts";
export * from "./cursor.ts";
