export * from "./html.js";
export * from "./live.js";
export * from "./model.js";
export * from "./quote-details.js";
export * from "./render.js";
export * from "./server.js";
export * from "./source.js";
