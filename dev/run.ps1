<#
.SYNOPSIS
  Posts a miner's observations to a Leadpoet server as snippets, in batches, and prints a summary of what
  was accepted and rejected. The Windows twin of dev/run.sh (same options, same output, same exit codes).

.DESCRIPTION
  Reads .csv files (a header line naming the columns: id, miner, ts, domain, name, industry, employees,
  country, role, kind, text, url, tech_added, tech_removed; lists separated by ';'; empty cells left out) or
  .jsonl / .ndjson files (one snippet per line, contract section 1) and sends them to POST /v1/snippets as
  JSON arrays of -Batch snippets. A batch answered 429, 503, another 5xx or not at all is retried up to
  -Retries times, waiting Retry-After seconds when the server gives it, else -BackoffMs doubling each time
  (capped at 60 s) with jitter. The API key goes in "Authorization: Bearer KEY".

  Exit: 0 when every batch was answered 202 (rejected snippets are reported, not an error); 1 when a batch
  could not be delivered or a file cannot be read; 2 on a usage error.

.EXAMPLE
  .\dev\run.ps1 -Url http://127.0.0.1:8080 -ApiKey $env:LEADPOET_API_KEY -Miner m1 observations.csv
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true, Position = 0, ValueFromRemainingArguments = $true)]
  [string[]] $Path,
  [string] $Url = $(if ($env:LEADPOET_URL) { $env:LEADPOET_URL } else { 'http://127.0.0.1:8080' }),
  [string] $ApiKey = $env:LEADPOET_API_KEY,
  [string] $Miner = $env:LEADPOET_MINER,
  [ValidateRange(1, 10000)] [int] $Batch = 500,
  [ValidateRange(0, 100)] [int] $Retries = 6,
  [ValidateRange(0, 60000)] [int] $BackoffMs = 500,
  [switch] $Quiet
)
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$LeadFields = @('domain', 'name', 'industry', 'employees', 'country', 'role')
$ListFields = @('tech_added', 'tech_removed')

function Fail([string] $Message, [int] $Code = 1) {
  [Console]::Error.WriteLine("run.ps1: $Message")
  exit $Code
}

# One snippet (an ordered hashtable) from a CSV row, as dev/run.sh builds it.
function ConvertFrom-CsvRow($Row) {
  $out = [ordered]@{}
  $lead = [ordered]@{}
  foreach ($p in $Row.PSObject.Properties) {
    $k = $p.Name.Trim()
    $v = if ($null -eq $p.Value) { '' } else { ([string]$p.Value).Trim() }
    if ($v -eq '') { continue }
    if ($LeadFields -contains $k) {
      if ($k -eq 'employees' -and $v -match '^\d+$') { $lead[$k] = [int64]$v } else { $lead[$k] = $v }
    } elseif ($ListFields -contains $k) {
      $out[$k] = @($v.Split(';') | ForEach-Object { $_.Trim() } | Where-Object { $_ -ne '' })
    } elseif ($k -eq 'ts' -and $v -match '^-?\d+$') {
      $out[$k] = [int64]$v
    } else {
      $out[$k] = $v
    }
  }
  if (-not $out.Contains('ts')) { $out['ts'] = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() }
  if ($lead.Count -gt 0) { $out['lead'] = $lead }
  return $out
}

# Every input snippet as a JSON string, in file order; a line that is not a JSON object stops the run.
$snippets = New-Object System.Collections.Generic.List[string]
foreach ($file in $Path) {
  if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { Fail "cannot read $file" }
  if ($file -match '\.csv$') {
    foreach ($row in (Import-Csv -LiteralPath $file -Encoding UTF8)) {
      $s = ConvertFrom-CsvRow $row
      if ($Miner -and -not $s.Contains('miner')) { $s['miner'] = $Miner }
      $snippets.Add(($s | ConvertTo-Json -Compress -Depth 8))
    }
  } else {
    $n = 0
    foreach ($line in [System.IO.File]::ReadLines((Resolve-Path -LiteralPath $file).Path)) {
      $n++
      if ($line.Trim() -eq '') { continue }
      try { $obj = $line | ConvertFrom-Json } catch { Fail "${file}:${n}: not JSON: $($_.Exception.Message)" }
      if ($obj -isnot [System.Management.Automation.PSCustomObject]) { Fail "${file}:${n}: not a JSON object" }
      if ($Miner -and -not ($obj.PSObject.Properties.Name -contains 'miner')) {
        $obj | Add-Member -NotePropertyName miner -NotePropertyValue $Miner
      }
      $snippets.Add(($obj | ConvertTo-Json -Compress -Depth 8))
    }
  }
}
if ($snippets.Count -eq 0) { Fail "no snippets in $($Path -join ', ')" }

$headers = @{ Accept = 'application/json' }
if ($ApiKey) { $headers['Authorization'] = "Bearer $ApiKey" }
$endpoint = $Url.TrimEnd('/') + '/v1/snippets'
$accepted = 0; $rejected = 0; $failed = 0; $batches = 0
$codes = @{}

# Seconds before retry $Attempt (1-based): Retry-After when given, else the doubling backoff with jitter.
function Get-Delay([int] $Attempt, $RetryAfter) {
  $ra = 0
  if ($null -ne $RetryAfter -and [int]::TryParse([string]$RetryAfter, [ref]$ra)) { return [double]$ra }
  $ms = [double]$BackoffMs * [math]::Pow(2, $Attempt - 1)
  if ($ms -gt 60000) { $ms = 60000 }
  return ($ms + (Get-Random -Minimum 0 -Maximum ([int]($ms / 5) + 1))) / 1000.0
}

for ($offset = 0; $offset -lt $snippets.Count; $offset += $Batch) {
  $count = [math]::Min($Batch, $snippets.Count - $offset)
  $body = '[' + ($snippets.GetRange($offset, $count) -join ',') + ']'
  $bytes = [System.Text.Encoding]::UTF8.GetBytes($body)
  $attempt = 0
  $status = 0; $answer = $null; $errText = ''
  while ($true) {
    $retryAfter = $null
    try {
      $resp = Invoke-WebRequest -Uri $endpoint -Method Post -Headers $headers -Body $bytes `
        -ContentType 'application/json' -UseBasicParsing -TimeoutSec 120
      $status = [int]$resp.StatusCode
      $answer = $resp.Content
    } catch {
      $r = $_.Exception.Response
      if ($null -ne $r) {
        $status = [int]$r.StatusCode
        # Windows PowerShell 5.1 gives a WebResponse, PowerShell 7 an HttpResponseMessage.
        if ($r.Headers -is [System.Net.WebHeaderCollection]) {
          $retryAfter = $r.Headers['Retry-After']
        } elseif ($null -ne $r.Headers.RetryAfter -and $null -ne $r.Headers.RetryAfter.Delta) {
          $retryAfter = [int]$r.Headers.RetryAfter.Delta.TotalSeconds
        }
        if ($_.ErrorDetails -and $_.ErrorDetails.Message) { $answer = $_.ErrorDetails.Message }
      } else {
        $status = 0
        $errText = $_.Exception.Message
      }
    }
    if ($status -eq 202) { break }
    if (@(0, 429, 500, 502, 503, 504) -notcontains $status -or $attempt -ge $Retries) { break }
    $attempt++
    $wait = Get-Delay $attempt $retryAfter
    $why = if ($status -eq 0) { $errText } else { "HTTP $status" }
    [Console]::Error.WriteLine("run.ps1: batch at snippet $($offset + 1): $why; retry $attempt/$Retries in ${wait}s")
    Start-Sleep -Milliseconds ([int]($wait * 1000))
  }
  $batches++
  if ($status -eq 202) {
    $result = $answer | ConvertFrom-Json
    $accepted += [int]$result.accepted
    foreach ($r in @($result.rejected)) {
      if ($null -eq $r) { continue }
      $rejected++
      $codes[$r.code] = 1 + $(if ($codes.ContainsKey($r.code)) { $codes[$r.code] } else { 0 })
      if (-not $Quiet) { Write-Output "rejected: snippet $($offset + [int]$r.index + 1): $($r.code): $($r.message)" }
    }
  } else {
    $failed += $count
    $detail = $errText
    if ($answer) { try { $e = ($answer | ConvertFrom-Json).error; $detail = "$($e.code): $($e.message)" } catch { $detail = $answer } }
    [Console]::Error.WriteLine("run.ps1: batch of snippets $($offset + 1)..$($offset + $count) not delivered: HTTP $status $detail")
  }
}

$summary = "accepted $accepted, rejected $rejected, not delivered $failed (of $($snippets.Count) snippets in $batches batches)"
if ($codes.Count -gt 0) {
  $summary += '; rejected by code: ' + (($codes.Keys | Sort-Object | ForEach-Object { "$_ $($codes[$_])" }) -join ', ')
}
Write-Output "summary: $summary"
if ($failed -gt 0) { exit 1 }
exit 0
