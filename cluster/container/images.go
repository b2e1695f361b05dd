package container

// ToolsImage is the image of drover's own helpers: the drover binary at /drover with
// entrypoint ["/drover"], which every node builds from its own binary (no registry), so pods
// run drover's helpers, such as `drover fetch-agent` in the Jenkins agents' init container.
const ToolsImage = "drover/tools:1"
