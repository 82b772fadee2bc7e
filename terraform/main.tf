# Leadpoet on AWS: a VPC, an EKS cluster for the pods (deploy/k8s), MSK for the topics, ElastiCache Redis
# (cluster mode) for checkpoints, and the IAM role of the pods.
locals {
  name = "leadpoet-${var.environment}"
}

module "network" {
  source             = "./modules/network"
  name               = local.name
  cidr               = var.vpc_cidr
  availability_zones = var.availability_zones
}

module "eks" {
  source              = "./modules/eks"
  name                = local.name
  kubernetes_version  = var.eks_version
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.private_subnet_ids
  node_instance_types = var.node_instance_types
  node_min            = var.node_min
  node_max            = var.node_max
}

module "msk" {
  source                = "./modules/msk"
  name                  = local.name
  kafka_version         = var.kafka_version
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  client_security_group = module.eks.node_security_group_id
  broker_instance_type  = var.kafka_broker_instance_type
  broker_volume_gb      = var.kafka_broker_volume_gb
}

module "topics" {
  source          = "./modules/msk/topics"
  partitions      = var.shards
  replication     = min(3, length(var.availability_zones))
  retention_hours = var.kafka_retention_hours

  depends_on = [module.msk]
}

module "redis" {
  source                  = "./modules/redis"
  name                    = local.name
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  client_security_group   = module.eks.node_security_group_id
  node_type               = var.redis_node_type
  shards                  = var.redis_shards
  replicas_per_shard      = var.redis_replicas_per_shard
  snapshot_retention_days = var.redis_snapshot_retention_days
}

module "iam" {
  source            = "./modules/iam"
  name              = local.name
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer_url   = module.eks.oidc_issuer_url
  namespace         = var.k8s_namespace
  service_accounts  = var.k8s_service_accounts
  msk_cluster_arn   = module.msk.cluster_arn
}
