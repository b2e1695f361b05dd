package provider

// ProbeNodePrefix names the label probe node (ProbeNodePrefix + namespace).
//
// A pipeline node('L') item carries no labelExpression, and while Jenkins
// has no agent node at all its why text ("Waiting for next available
// executor") names no label either (DESIGN §7), so no template could be
// chosen for it. The provider then creates one offline node with no labels
// and no agent (the probe): with a node present, Jenkins' why text names the
// label ("There are no nodes with the label ‘L’") and the next poll plans as
// usual. The probe is deleted once no such item is queued.
const ProbeNodePrefix = "drover-label-probe-"

// probeDescription is the description of the probe node.
const probeDescription = "drover Jenkins cloud label probe: lets the queue name the labels of pipeline items; never connects"
