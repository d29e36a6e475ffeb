#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Restores, builds, tests and packs the solution.
.DESCRIPTION
    Runs under PowerShell 7 from the local tool manifest:  dotnet tool restore && dotnet pwsh ./build.ps1
    Test results (TRX) go to artifacts/test-results, packages to artifacts/packages. The last line printed
    is "N passed, N failed, N skipped"; the script fails if a step fails, a test fails, or no test ran.
#>
[CmdletBinding()]
param(
    [string] $Configuration = 'Release',
    [switch] $SkipTests,
    [switch] $SkipPack
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
# Native commands' exit codes are checked explicitly, so a failing test run still gets its summary.
$PSNativeCommandUseErrorActionPreference = $false

$solution = Join-Path $PSScriptRoot 'IoTrace.AspNetCore.sln'
$testResults = Join-Path $PSScriptRoot 'artifacts/test-results'
$packages = Join-Path $PSScriptRoot 'artifacts/packages'

function Invoke-Dotnet([string] $Step, [string[]] $Arguments) {
    Write-Host "==> $Step`: dotnet $($Arguments -join ' ')"
    & dotnet @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Step failed (dotnet exited with code $LASTEXITCODE)." }
}

$summary = $null
$failure = $null
try {
    Invoke-Dotnet 'restore' @('restore', $solution)
    Invoke-Dotnet 'build' @('build', $solution, '-c', $Configuration, '--no-restore')

    if (-not $SkipTests) {
        if (Test-Path $testResults) { Remove-Item $testResults -Recurse -Force }
        # The solution's test projects under test/ and samples/ (not helpers such as a child-process target).
        $testProjects = @(& dotnet sln $solution list | Where-Object { $_ -match '^(test|samples)[\\/].*\.csproj$' } |
            ForEach-Object { Get-Item (Join-Path $PSScriptRoot $_) } |
            Where-Object { (& dotnet msbuild $_.FullName -getProperty:IsTestProject) -eq 'true' })
        $failedRuns = @()
        foreach ($project in $testProjects) {
            $arguments = @('test', $project.FullName, '-c', $Configuration, '--no-build',
                '--logger', "trx;LogFileName=$($project.BaseName).trx", '--results-directory', $testResults)
            Write-Host "==> test: dotnet $($arguments -join ' ')"
            & dotnet @arguments
            if ($LASTEXITCODE -ne 0) { $failedRuns += "$($project.BaseName) (exit code $LASTEXITCODE)" }
        }

        $outcomes = @(Get-ChildItem $testResults -Filter *.trx -Recurse -ErrorAction SilentlyContinue |
            Select-Xml -XPath '//t:UnitTestResult' -Namespace @{ t = 'http://microsoft.com/schemas/VisualStudio/TeamTest/2010' } |
            ForEach-Object { $_.Node.outcome })
        $passed = @($outcomes | Where-Object { $_ -eq 'Passed' }).Count
        $skipped = @($outcomes | Where-Object { $_ -eq 'NotExecuted' }).Count
        $failed = $outcomes.Count - $passed - $skipped
        $summary = "$passed passed, $failed failed, $skipped skipped"
        if ($failedRuns) { throw "Test runs failed: $($failedRuns -join ', ')." }
        if ($failed -gt 0) { throw "$failed tests failed." }
        if ($passed + $failed -eq 0) { throw "No test ran ($($testProjects.Count) test projects found)." }
    }

    if (-not $SkipPack) {
        Invoke-Dotnet 'pack' @('pack', $solution, '-c', $Configuration, '--no-build', '-o', $packages)
    }
}
catch {
    $failure = $_
}

if ($failure) { $Host.UI.WriteErrorLine("build.ps1 failed: $failure") }
# The CI reads this exact line shape: it comes last, after a failure too.
if ($summary) { Write-Host $summary }
if ($failure) { exit 1 }
