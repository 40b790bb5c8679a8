# Build HipVision on Windows (PowerShell 5.1 or 7). Same steps as packaging/build (bash).
#
#   powershell -ExecutionPolicy Bypass -File packaging\build.ps1            one-folder app in dist\hipvision\
#   powershell -ExecutionPolicy Bypass -File packaging\build.ps1 -Wheel     the wheel in dist\
#   ... -Flavour cuda                                                       bundle with the CUDA libraries
#   ... -Check                                                              run the bundled exe afterwards
#
# $env:PYTHON selects the build environment (default: .venv\Scripts\python.exe). Written from
# PyInstaller's documentation; not run on Windows by the project yet (docs/packaging.md).
param([switch]$Wheel, [switch]$Check, [ValidateSet("cpu", "cuda")][string]$Flavour = "cpu")
$ErrorActionPreference = "Stop"

$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root
$Python = if ($env:PYTHON) { $env:PYTHON } elseif (Test-Path ".venv\Scripts\python.exe") { ".venv\Scripts\python.exe" } else { "python" }
$Version = & $Python -c "import hipvision; print(hipvision.__version__)"
$Timer = [System.Diagnostics.Stopwatch]::StartNew()

if ($Wheel) {
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue build\lib
    Get-ChildItem build -Filter "bdist.*" -ErrorAction SilentlyContinue | Remove-Item -Recurse -Force
    & $Python -m build --wheel --no-isolation --skip-dependency-check --outdir dist .
    if ($LASTEXITCODE) { exit $LASTEXITCODE }
    Write-Host "wheel: dist\hipvision-$Version-py3-none-any.whl ($([int]$Timer.Elapsed.TotalSeconds) s)"
    exit 0
}

& $Python -c "import PyInstaller" 2>$null
if ($LASTEXITCODE) { Write-Error "PyInstaller is missing in ${Python}: pip install -e .[bundle]"; exit 2 }
Write-Host "building HipVision $Version ($Flavour bundle) ..."
$env:HIPVISION_BUNDLE_FLAVOUR = $Flavour
& $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$Root\dist" --workpath "$Root\build\pyinstaller" packaging\hipvision.spec
if ($LASTEXITCODE) { exit $LASTEXITCODE }
$Bytes = (Get-ChildItem -Recurse -File dist\hipvision | Measure-Object -Property Length -Sum).Sum
Write-Host ("bundle: dist\hipvision  size: {0:N0} MB  build time: {1} s" -f ($Bytes / 1MB), [int]$Timer.Elapsed.TotalSeconds)

if ($Check) {
    & dist\hipvision\hipvision.exe --version
    if ($LASTEXITCODE) { exit $LASTEXITCODE }
    $Tmp = Join-Path ([System.IO.Path]::GetTempPath()) ("hipvision-check-" + [guid]::NewGuid())
    Copy-Item -Recurse dist\hipvision\_internal\hipvision\_resources\samples "$Tmp\project"
    $env:QT_QPA_PLATFORM = "offscreen"
    $env:HIPVISION_DATA_DIR = "$Tmp\data"
    $env:HIPVISION_CONFIG_DIR = "$Tmp\config"
    & dist\hipvision\hipvision.exe gui "$Tmp\project" --screenshot "$Tmp\shot.png"
    if ($LASTEXITCODE -or -not (Test-Path "$Tmp\shot.png")) { Write-Error "gui screenshot failed"; exit 1 }
    Write-Host "check: ok ($Tmp\shot.png)"
}
