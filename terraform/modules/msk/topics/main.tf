# The topics of contract sections 1 and 2 and their dead-letter queues. miner.snippets and outcome.events
# have one partition per leadpoet shard (a shard's messages stay in order on one partition; the consumer
# group hands whole partitions to instances). The DLQs hold rejected messages with the reason in header
# leadpoet-error: few, kept longer for inspection.
terraform {
  required_providers {
    kafka = {
      source  = "Mongey/kafka"
      version = "~> 0.8"
    }
  }
}

variable "partitions" {
  description = "Partitions of miner.snippets and outcome.events: leadpoet's [server] shards."
  type        = number
}

variable "replication" {
  description = "Replication factor of every topic."
  type        = number
}

variable "retention_hours" {
  description = "Retention of miner.snippets and outcome.events, in hours."
  type        = number
}

locals {
  main = ["miner.snippets", "outcome.events"]
  topics = merge(
    { for t in local.main : t => { partitions = var.partitions, retention_ms = var.retention_hours * 3600000 } },
    { for t in local.main : "${t}.dlq" => { partitions = min(var.partitions, 8), retention_ms = 30 * 24 * 3600000 } },
  )
}

resource "kafka_topic" "this" {
  for_each           = local.topics
  name               = each.key
  partitions         = each.value.partitions
  replication_factor = var.replication

  config = {
    "retention.ms"        = tostring(each.value.retention_ms)
    "cleanup.policy"      = "delete"
    "min.insync.replicas" = tostring(min(2, var.replication))
    "compression.type"    = "zstd"
  }
}

output "partitions" {
  description = "Partition count of each topic, by name."
  value       = { for name, t in kafka_topic.this : name => t.partitions }
}
