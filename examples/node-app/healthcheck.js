// HEALTHCHECK without curl or wget in the image: exit 0 when /healthz answers 200.
"use strict";
const http = require("node:http");

const port = Number(process.env.PORT || 3000);
const request = http.get({ host: "127.0.0.1", port, path: "/healthz", timeout: 2000 }, (response) => {
  process.exit(response.statusCode === 200 ? 0 : 1);
});
request.on("timeout", () => request.destroy());
request.on("error", () => process.exit(1));
