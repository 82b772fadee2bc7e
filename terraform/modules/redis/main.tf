# ElastiCache Redis in cluster mode: where leadpoet checkpoints the shards' state (REDIS_ENDPOINT is the
# configuration endpoint). Daily snapshots are the backups (docs/operations.md, "Backup and restore of
# Redis"); a final snapshot is taken when the cluster is deleted.
variable "name" {
  description = "Name of the replication group and prefix of its resources."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cache nodes."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the cache nodes."
  type        = list(string)
}

variable "client_security_group" {
  description = "Security group of the clients (EKS nodes) allowed to reach Redis."
  type        = string
}

variable "node_type" {
  description = "Node type of the cache nodes."
  type        = string
}

variable "shards" {
  description = "Node groups (Redis cluster shards)."
  type        = number
}

variable "replicas_per_shard" {
  description = "Replicas of each node group."
  type        = number
}

variable "snapshot_retention_days" {
  description = "Days of automatic snapshots kept."
  type        = number
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "ElastiCache Redis of leadpoet."
  vpc_id      = var.vpc_id

  ingress {
    description     = "Redis from the EKS nodes."
    from_port       = 6379
    to_port         = 6379
    protocol        = "tcp"
    security_groups = [var.client_security_group]
  }
}

resource "aws_elasticache_subnet_group" "this" {
  name       = "${var.name}-redis"
  subnet_ids = var.subnet_ids
}

resource "aws_elasticache_parameter_group" "this" {
  name   = "${var.name}-redis7-cluster"
  family = "redis7"

  parameter {
    name  = "cluster-enabled"
    value = "yes"
  }

  # Checkpoints are the state: never evict them.
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "leadpoet checkpoints (cluster mode)"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.node_type
  port                       = 6379
  parameter_group_name       = aws_elasticache_parameter_group.this.name
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.redis.id]
  num_node_groups            = var.shards
  replicas_per_node_group    = var.replicas_per_shard
  automatic_failover_enabled = true
  multi_az_enabled           = var.replicas_per_shard > 0
  at_rest_encryption_enabled = true
  # leadpoet's Redis client speaks plain TCP; traffic stays inside the VPC and its security group.
  transit_encryption_enabled = false
  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:05:00-sun:06:00"
  final_snapshot_identifier  = "${var.name}-final"
  apply_immediately          = false
}

output "configuration_endpoint" {
  description = "host:port of the cluster's configuration endpoint: REDIS_ENDPOINT."
  value       = "${aws_elasticache_replication_group.this.configuration_endpoint_address}:6379"
}

output "replication_group_id" {
  description = "ID of the replication group (snapshots and restores name it)."
  value       = aws_elasticache_replication_group.this.id
}
