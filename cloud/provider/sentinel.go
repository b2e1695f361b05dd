package provider

// SentinelNodePrefix names the label sentinel node (SentinelNodePrefix + namespace).
//
// A pipeline node('L') item carries no labelExpression, and while Jenkins
// has no agent node at all its why text ("Waiting for next available
// executor") names no label either (DESIGN §7), so no template could be
// chosen for it. The provider then creates one offline node with no labels
// and no agent (the sentinel): with a node present, Jenkins' why text names the
// label ("There are no nodes with the label ‘L’") and the next poll plans as
// usual. The sentinel is deleted once no such item is queued.
//
// The name keeps the word "probe" of earlier versions, so that a node an
// earlier drover created is recognised and removed.
const SentinelNodePrefix = "drover-label-probe-"

// sentinelDescription is the description of the sentinel node.
const sentinelDescription = "drover Jenkins cloud label sentinel: lets the queue name the labels of pipeline items; never connects"
