// GraphiQL, served by CueCard itself (no CDN). Put your token in the Headers tab:
// {"Authorization": "Bearer <token>"}
(function () {
  var root = document.getElementById("graphiql");
  var fetcher = GraphiQL.createFetcher({ url: root.getAttribute("data-endpoint") });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      isHeadersEditorEnabled: true,
      defaultQuery:
        "# Paste your token in Headers below: {\"Authorization\": \"Bearer <token>\"}\n" +
        "# (`make run` prints one; `cuecard token --email you@example.com --role editor` mints one).\n" +
        "query Me {\n  me { displayName email role department { key name } }\n}\n",
    })
  );
})();
