// The chapter's application: one page, and /healthz for the image's HEALTHCHECK.
"use strict";
const http = require("node:http");

const port = Number(process.env.PORT || 3000);
const server = http.createServer((request, response) => {
  if (request.url === "/healthz") {
    response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return;
  }
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  response.end("<h1>Servie depuis le registre privé</h1>\n");
});
server.listen(port, () => console.log(`listening on ${port}`));
// Exec-form CMD makes node PID 1: stop cleanly on the SIGTERM of `docker stop` or a rollout.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
