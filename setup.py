from setuptools import find_packages, setup

setup(
    name='gluon_pydmn',
    version='0.1.0',
    description='MXNet Gluon reproduction of PydMobileNet (Hoang & Jo, arXiv 1811.07083)',
    long_description=open('README.md').read() if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['gluon_pydmn', 'gluon_pydmn.*']),  # with .commands, .reproduce
    package_data={'gluon_pydmn': ['authors_release_sha1.json', 'csrc/*.cc',
                                  'reproduce/paper_tables.json']},
    entry_points={'console_scripts': ['gluon-pydmn = gluon_pydmn.commands:main']},
    python_requires='>=3.8',
    install_requires=['mxnet>=1.9.1,<2', 'gluoncv>=0.10.5', 'numpy<1.24', 'tqdm', 'Pillow'],
    extras_require={'plot': ['matplotlib'], 'onnx': ['onnx<1.16', 'onnxruntime'], 'test': ['pytest'],
                    'sweep': ['ray==2.60.0']},
)
