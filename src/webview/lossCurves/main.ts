// Loss-curves webview entry (being written).
export {};
