// GraphiQL, served by CueCard itself (no CDN). Put your token in the Headers tab:
// {"Authorization": "Bearer <token>"}
(function () {
  var root = document.getElementById("graphiql");
  var fetcher = GraphiQL.createFetcher({ url: root.getAttribute("data-endpoint") });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      isHeadersEditorEnabled: true,
      defaultHeaders: '{"Authorization": "Bearer "}',
      defaultQuery: "query Me {\n  me { displayName email role department { key name } }\n}\n",
    })
  );
})();
