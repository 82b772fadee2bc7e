output "eks_cluster_name" {
  description = "Name of the EKS cluster: aws eks update-kubeconfig --name <this>."
  value       = module.eks.cluster_name
}

output "kafka_bootstrap_brokers" {
  description = "KAFKA_BOOTSTRAP_BROKERS for the Secret leadpoet-secrets (IAM authentication, TLS)."
  value       = module.msk.bootstrap_brokers_iam
}

output "redis_endpoint" {
  description = "REDIS_ENDPOINT for the Secret leadpoet-secrets: the cluster's configuration endpoint, host:port."
  value       = module.redis.configuration_endpoint
}

output "leadpoet_role_arn" {
  description = "IAM role of the pods: the eks.amazonaws.com/role-arn annotation of their service account."
  value       = module.iam.role_arn
}

output "topics" {
  description = "Kafka topics and their partition counts."
  value       = module.topics.partitions
}
