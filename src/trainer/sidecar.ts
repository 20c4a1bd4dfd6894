// Sidecar entry: the trainer protocol over stdio. (being written)
export {};
