variable "region" {
  description = "AWS region of every resource."
  type        = string
}

variable "environment" {
  description = "Name of this deployment (dev, prod): prefixes every resource name."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones to spread subnets, brokers and cache nodes over (3 for production)."
  type        = list(string)
}

variable "shards" {
  description = "Shards of leadpoet ([server] shards): miner.snippets and outcome.events get this many partitions."
  type        = number
  default     = 64

  validation {
    condition     = var.shards >= 1 && var.shards <= 4096 && floor(log(var.shards, 2)) == log(var.shards, 2)
    error_message = "shards must be a power of two between 1 and 4096, as in leadpoet's config."
  }
}

variable "eks_version" {
  description = "Kubernetes version of the EKS cluster."
  type        = string
  default     = "1.30"
}

variable "node_instance_types" {
  description = "EC2 instance types of the EKS managed node group."
  type        = list(string)
  default     = ["c6i.2xlarge"]
}

variable "node_min" {
  description = "Fewest nodes in the node group."
  type        = number
  default     = 3
}

variable "node_max" {
  description = "Most nodes in the node group."
  type        = number
  default     = 12
}

variable "kafka_version" {
  description = "Apache Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"
}

variable "kafka_broker_instance_type" {
  description = "Instance type of the MSK brokers."
  type        = string
  default     = "kafka.m5.large"
}

variable "kafka_broker_volume_gb" {
  description = "EBS storage of each broker, in GiB."
  type        = number
  default     = 500
}

variable "kafka_retention_hours" {
  description = "How long miner.snippets and outcome.events keep messages (replay window after a restore)."
  type        = number
  default     = 168
}

variable "redis_node_type" {
  description = "Node type of the ElastiCache Redis cluster."
  type        = string
  default     = "cache.r7g.large"
}

variable "redis_shards" {
  description = "Node groups (Redis cluster shards) of the ElastiCache cluster."
  type        = number
  default     = 3
}

variable "redis_replicas_per_shard" {
  description = "Replicas of each Redis node group (1 or more for automatic failover)."
  type        = number
  default     = 1
}

variable "redis_snapshot_retention_days" {
  description = "Days of automatic daily Redis snapshots kept (the backups of docs/operations.md)."
  type        = number
  default     = 7
}

variable "k8s_namespace" {
  description = "Kubernetes namespace of the leadpoet pods (deploy/k8s overlays: leadpoet or leadpoet-dev)."
  type        = string
  default     = "leadpoet"
}

variable "k8s_service_accounts" {
  description = "Service accounts of the leadpoet pods that may assume the pods' IAM role (prod, blue, green)."
  type        = list(string)
  default     = ["leadpoet", "leadpoet-blue", "leadpoet-green"]
}
